// The view in the address bar: `?symbol=ETHUSDT&interval=5m&market=usdm&studies=ema20,rsi14`,
// so a reload or a shared link opens the same chart, and back/forward walk the views the
// user chose. Pure: reads and writes query strings, never `window`.

export const MARKETS = ["spot", "usdm"];

/**
 * The view a query string asks for, each field checked against what the page can show;
 * anything missing or unknown falls back to `defaults`.
 * @param {string} search location.search
 * @param {{symbol: string, interval: string, market: string, studies: string[]}} defaults
 * @param {{intervals: string[], studies: string[]}} allowed
 */
export function readView(search, defaults, allowed) {
  const query = new URLSearchParams(search);
  const symbol = (query.get("symbol") || "").trim().toUpperCase();
  const interval = query.get("interval") || "";
  const market = query.get("market") || "";
  const studies = (query.get("studies") ?? defaults.studies.join(","))
    .split(",")
    .filter((name) => allowed.studies.includes(name));
  return {
    symbol: /^[A-Z0-9]{2,30}$/.test(symbol) ? symbol : defaults.symbol,
    interval: allowed.intervals.includes(interval) ? interval : defaults.interval,
    market: MARKETS.includes(market) ? market : defaults.market,
    studies: [...new Set(studies)],
  };
}

/** The query string of a view; the default market and no studies are left out. */
export function viewQuery(view) {
  const query = new URLSearchParams({ symbol: view.symbol, interval: view.interval });
  if (view.market !== MARKETS[0]) query.set("market", view.market);
  if (view.studies.length) query.set("studies", view.studies.join(","));
  return `?${query.toString().replaceAll("%2C", ",")}`;
}
