// The page's pure rules, run with `npm test` (node's own test runner, no browser).

import assert from "node:assert/strict";
import { test } from "node:test";

import { applySnapshot, breaksIn, resumeSince, upsertCandle } from "../src/candles.js";
import { mergeLiquidations, mergeTrades } from "../src/feeds.js";
import { decimalText, sortIntervals } from "../src/format.js";
import { backoffDelay, socketUrl } from "../src/socket.js";

const candle = (time, close = 1, closed = true) => ({
  time, open: 1, high: 2, low: 0.5, close, volume: 3, closed,
});

test("upsert replaces the candle with the same open time and appends newer ones", () => {
  let series = [candle(60), candle(120, 1, false)];
  let result = upsertCandle(series, candle(120, 5, true));
  assert.equal(result.change, "tail");
  assert.deepEqual(result.candles.map((c) => [c.time, c.close, c.closed]), [[60, 1, true], [120, 5, true]]);
  series = result.candles;
  result = upsertCandle(series, candle(180, 6, false));
  assert.deepEqual(result.candles.map((c) => c.time), [60, 120, 180]);
  assert.equal(upsertCandle(result.candles, candle(180, 6, false)).change, "none");
  assert.equal(upsertCandle(result.candles, candle(60, 9)).change, "history");
});

test("a resume snapshot overlapping the last candle leaves no gap and no duplicate", () => {
  const held = [candle(60), candle(120), candle(180, 1, false)];
  const since = resumeSince(held);
  assert.equal(since, 180);
  const resumed = applySnapshot(held, [candle(180, 7), candle(240), candle(300, 1, false)], {
    resume: true,
    reset: false,
  });
  assert.deepEqual(resumed.map((c) => c.time), [60, 120, 180, 240, 300]);
  assert.equal(resumed[2].close, 7);
  assert.deepEqual(breaksIn(resumed, 60), []);
});

test("a reset snapshot or a fresh subscription replaces the series", () => {
  const held = [candle(60), candle(120)];
  const fresh = [candle(600), candle(660)];
  assert.deepEqual(applySnapshot(held, fresh, { resume: true, reset: true }).map((c) => c.time), [600, 660]);
  assert.deepEqual(applySnapshot(held, fresh, { resume: false, reset: false }).map((c) => c.time), [600, 660]);
});

test("trades merge by id, newest first, without duplicates", () => {
  const tape = mergeTrades([{ id: 3 }, { id: 2 }], [{ id: 3 }, { id: 5 }, { id: 4 }]);
  assert.deepEqual(tape.map((t) => t.id), [5, 4, 3, 2]);
});

test("a repeated liquidations snapshot adds nothing", () => {
  const item = { timestamp: 10, side: "BUY", quantity: 1, avgPrice: 2 };
  const feed = mergeLiquidations([item], [{ ...item }, { ...item, timestamp: 11 }]);
  assert.deepEqual(feed.map((l) => l.timestamp), [11, 10]);
});

test("backoff starts at 250 ms and is capped at 5 s", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 50].map(backoffDelay), [250, 500, 1000, 2000, 4000, 5000, 5000]);
});

test("socket URL follows the page's scheme", () => {
  assert.equal(socketUrl({ protocol: "https:", host: "a.b" }), "wss://a.b/ws?batch_ms=50");
  assert.equal(socketUrl({ protocol: "http:", host: "h:1" }), "ws://h:1/ws?batch_ms=50");
});

test("rounding options print without exponents; intervals sort by duration", () => {
  assert.deepEqual([10, 1.0, 0.1, 1e-7].map(decimalText), ["10", "1", "0.1", "0.0000001"]);
  assert.deepEqual(sortIntervals(["1d", "1m", "1M", "4h", "5m"]), ["1m", "5m", "4h", "1d", "1M"]);
});
