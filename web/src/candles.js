// Pure candle-series rules (docs/native.md, client sync rules): a client that applies every candle message by
// upsert-on-time to its snapshot always holds a continuous series. No DOM, no chart, no
// clock, so the rules can be checked in isolation.

// A long session keeps appending, and scrolling left prepends pages of older candles;
// past this many the oldest go first (and no older page is asked for), so memory stays
// bounded.
export const MAX_CANDLES = 20000;

/** The series' own copy of a wire candle (extra fields are dropped, numbers kept). */
export function toCandle(wire) {
  return {
    time: wire.time,
    open: wire.open,
    high: wire.high,
    low: wire.low,
    close: wire.close,
    volume: wire.volume,
    closed: Boolean(wire.closed),
  };
}

/**
 * Upsert one candle by open time; returns `{candles, change}` with a new array.
 *
 * `change` tells the chart what to do: "tail" (the last candle was replaced or a newer
 * one appended: a cheap incremental update), "history" (an older candle was replaced
 * or inserted: redraw), or "none" (the same candle again).
 */
export function upsertCandle(candles, wire) {
  const candle = toCandle(wire);
  const last = candles[candles.length - 1];
  if (last === undefined || candle.time > last.time) {
    return { candles: capped([...candles, candle]), change: "tail" };
  }
  const index = indexOfTime(candles, candle.time);
  const next = candles.slice();
  if (candles[index].time === candle.time) {
    if (sameCandle(candles[index], candle)) return { candles, change: "none" };
    next[index] = candle;
    return { candles: next, change: index === candles.length - 1 ? "tail" : "history" };
  }
  // Older than the tail and not held: only a resume overlapping a hole could send it.
  next.splice(index, 0, candle);
  return { candles: capped(next), change: "history" };
}

/**
 * Apply a snapshot. A fresh subscription (`resume` false) or a `reset` replaces the
 * series; a resume (`since` given) upserts each candle into what is held, which keeps
 * everything older than `since` and overwrites the rest with the server's versions.
 */
export function applySnapshot(candles, wireCandles, { resume, reset }) {
  if (!resume || reset) return capped(wireCandles.map(toCandle).sort(byTime));
  let merged = candles;
  for (const wire of wireCandles) merged = upsertCandle(merged, wire).candles;
  return merged;
}

/** The `since` of a resume: the open time of the last candle held, or undefined. */
export function resumeSince(candles) {
  return candles.length ? candles[candles.length - 1].time : undefined;
}

/** Open times that are not exactly `step` seconds apart (for checks and tests). */
export function breaksIn(candles, step) {
  const breaks = [];
  for (let i = 1; i < candles.length; i += 1) {
    if (candles[i].time - candles[i - 1].time !== step) breaks.push([candles[i - 1].time, candles[i].time]);
  }
  return breaks;
}

/** Binary search: the index of the first candle at or after `time` (the series ascends). */
export function indexOfTime(candles, time) {
  let low = 0;
  let high = candles.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (candles[mid].time < time) low = mid + 1;
    else high = mid;
  }
  return low;
}

function sameCandle(a, b) {
  return (
    a.open === b.open && a.high === b.high && a.low === b.low && a.close === b.close &&
    a.volume === b.volume && a.closed === b.closed
  );
}

function capped(candles) {
  return candles.length > MAX_CANDLES ? candles.slice(candles.length - MAX_CANDLES) : candles;
}

function byTime(a, b) {
  return a.time - b.time;
}
