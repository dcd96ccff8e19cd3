// A price range for the chart that one stray wick cannot take hostage. Pure.
//
// Autoscaling to every high and low lets a single spike (a thin book swept for a second)
// squash a day of candles into a line. Bodies always fit; a wick counts only as far as
// WICK_LIMIT times the typical candle range of the view beyond its body. A clipped wick
// still draws, it runs off the pane's edge, and the crosshair and legend give its value.

export const WICK_LIMIT = 4;

/** `{minValue, maxValue}` for the visible candles, or null when there are none. */
export function robustRange(candles) {
  if (!candles.length) return null;
  const ranges = candles.map((c) => c.high - c.low).sort((a, b) => a - b);
  const typical = ranges[Math.floor(ranges.length / 2)];
  const reach = WICK_LIMIT * typical;
  let minValue = Infinity;
  let maxValue = -Infinity;
  for (const c of candles) {
    const top = Math.max(c.open, c.close);
    const bottom = Math.min(c.open, c.close);
    maxValue = Math.max(maxValue, Math.min(c.high, top + reach));
    minValue = Math.min(minValue, Math.max(c.low, bottom - reach));
  }
  return { minValue, maxValue };
}
