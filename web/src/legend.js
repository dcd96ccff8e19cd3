// The legend over the chart: open, high, low, close, volume and change of the candle
// under the cursor (or of the newest one). Pure: numbers in, strings out.

import { indexOfTime } from "./candles.js";
import { priceText } from "./format.js";

/**
 * What the legend shows for `candle`; the change is measured from the previous candle's
 * close (as exchanges quote it), or from the candle's own open when it is the first held.
 */
export function legendFields(candle, previous, precision) {
  const base = previous ? previous.close : candle.open;
  const change = base ? ((candle.close - base) / base) * 100 : 0;
  return {
    open: priceText(candle.open, precision),
    high: priceText(candle.high, precision),
    low: priceText(candle.low, precision),
    close: priceText(candle.close, precision),
    volume: volumeText(candle.volume),
    change: `${change >= 0 ? "+" : ""}${change.toFixed(2)}%`,
    up: candle.close >= candle.open,
  };
}

/** A volume with at most 4 significant decimals and K/M/B above a thousand. */
export function volumeText(volume) {
  const units = [
    [1e9, "B"],
    [1e6, "M"],
    [1e3, "K"],
  ];
  for (const [size, unit] of units) {
    if (volume >= size) return `${(volume / size).toFixed(2)}${unit}`;
  }
  return String(Number(volume.toPrecision(6)));
}

/** The index of the candle opening at `time` in an ascending series, or -1. */
export function indexAt(candles, time) {
  const index = indexOfTime(candles, time);
  return candles[index]?.time === time ? index : -1;
}
