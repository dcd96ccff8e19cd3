// Pure merge rules of the trades tape and the liquidations feed (newest first in both).

export const MAX_TRADES = 100;
export const MAX_LIQUIDATIONS = 50;

/**
 * Merge trades into a newest-first tape, de-duplicated by id. The hub delivers in id
 * order without a hole, but a re-subscribe's snapshot repeats trades already shown.
 */
export function mergeTrades(tape, incoming, max = MAX_TRADES) {
  const byId = new Map(tape.map((trade) => [trade.id, trade]));
  for (const trade of incoming) byId.set(trade.id, trade);
  return [...byId.values()].sort((a, b) => b.id - a.id).slice(0, max);
}

/** The `since` of a trades resume: the newest id held, or undefined. */
export function lastTradeId(tape) {
  return tape.length ? tape[0].id : undefined;
}

/**
 * Merge liquidations, newest first. They carry no id, so a re-subscribe's snapshot
 * (which repeats the newest ones) is de-duplicated by time, side, size and price.
 */
export function mergeLiquidations(feed, incoming, max = MAX_LIQUIDATIONS) {
  const byKey = new Map(feed.map((item) => [liquidationKey(item), item]));
  for (const item of incoming) byKey.set(liquidationKey(item), item);
  return [...byKey.values()].sort((a, b) => b.timestamp - a.timestamp).slice(0, max);
}

function liquidationKey(item) {
  return `${item.timestamp}|${item.side}|${item.quantity}|${item.avgPrice}`;
}
