// Display helpers. The hub sends ready-made strings for nearly everything, so
// these only cover numbers the page derives itself.

/**
 * A positive decimal as plain text without an exponent: 10 -> "10", 0.1 -> "0.1",
 * 1e-7 -> "0.0000001". Rounding options travel as JSON numbers, but the select's
 * values and `book.rounding` are strings the server parses as exact decimals.
 */
export function decimalText(value) {
  const number = Number(value);
  if (!Number.isFinite(number)) return String(value);
  const text = String(number);
  if (!/e/i.test(text)) return text;
  // toFixed takes at most 100 digits; rounding options are far from either limit.
  return number.toFixed(20).replace(/\.?0+$/, "");
}

/** A price at the symbol's precision (the live close the candles carry as a number). */
export function priceText(value, precision) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  return value.toFixed(Math.max(0, Math.min(precision ?? 2, 20)));
}

/** Escape text for innerHTML. */
export function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** Binance intervals in duration order, to sort whatever the hub serves. */
export const INTERVAL_ORDER = [
  "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M",
];

export function sortIntervals(codes) {
  const rank = (code) => {
    const index = INTERVAL_ORDER.indexOf(code);
    return index === -1 ? INTERVAL_ORDER.length : index;
  };
  return [...new Set(codes)].sort((a, b) => rank(a) - rank(b));
}

/** Seconds per candle for fixed-length intervals (1M is calendar-based: undefined). */
export function intervalSeconds(code) {
  const units = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  const match = /^(\d+)([smhdw])$/.exec(code);
  return match ? Number(match[1]) * units[match[2]] : undefined;
}

/** The intervals the chart offers in `market`: every Binance interval (USD-M has no 1s). */
export function chartIntervals(market) {
  return market === "usdm" ? INTERVAL_ORDER.filter((code) => code !== "1s") : [...INTERVAL_ORDER];
}
