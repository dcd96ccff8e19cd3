// The trades tape and the liquidations feed: plain newest-first lists.

import { clockTime } from "./clock.js";
import { escapeHtml } from "./format.js";

const SHOWN_TRADES = 60;

/** Trades newest first; times in the page's zone (`utc` or `local`). */
export function renderTrades(root, trades, zone = "utc") {
  root.innerHTML = trades
    .slice(0, SHOWN_TRADES)
    .map(
      (t) =>
        `<div class="trade ${t.side === "sell" ? "sell" : "buy"}">` +
        `<span class="price">${escapeHtml(t.price_formatted)}</span>` +
        `<span class="amount">${escapeHtml(t.amount_formatted)}</span>` +
        `<span class="time">${escapeHtml(clockTime(t.timestamp, zone) ?? t.time_formatted)}</span></div>`,
    )
    .join("");
}

/**
 * A liquidation's `side` is the liquidation order's side: BUY closes a short (shorts
 * were liquidated), SELL closes a long.
 */
export function renderLiquidations(root, liquidations, notice) {
  if (notice) {
    root.innerHTML = `<div class="notice">${escapeHtml(notice)}</div>`;
    return;
  }
  root.innerHTML = liquidations
    .map((l) => {
      const buy = String(l.side).toUpperCase() === "BUY";
      return (
        `<div class="liquidation ${buy ? "buy" : "sell"}">` +
        `<span class="side">${buy ? "short" : "long"}</span>` +
        `<span class="amount">${escapeHtml(l.quantityFormatted)} ${escapeHtml(l.baseAsset)}</span>` +
        `<span class="value">$${escapeHtml(l.priceUsdtFormatted)}</span>` +
        `<span class="time">${escapeHtml(l.displayTime)}</span></div>`
      );
    })
    .join("");
}
