// The page's pure view rules: address bar, search, legend, price range, studies, older
// pages, clock, depth curve. Run with `npm test` (node's own runner, no browser).

import assert from "node:assert/strict";
import { test } from "node:test";

import { clockTime, formatTime, simClockNote, tickLabel } from "../src/clock.js";
import { depthCurve } from "../src/depth.js";
import { chartIntervals } from "../src/format.js";
import { indexAt, legendFields, volumeText } from "../src/legend.js";
import { OLDER_PAGE, OlderLoader, prependOlder } from "../src/older.js";
import { readView, viewQuery } from "../src/route.js";
import { robustRange } from "../src/scale.js";
import { matchSymbols } from "../src/search.js";
import { snapshotLines, updatePoints, upsertPoint } from "../src/studies.js";

const DEFAULTS = { symbol: "BTCUSDT", interval: "1m", market: "spot", studies: [] };
const ALLOWED = { intervals: chartIntervals("spot"), studies: ["ema20", "rsi14", "macd"] };
const candle = (time, open, high, low, close, volume = 1) => ({ time, open, high, low, close, volume, closed: true });

test("the address bar carries the view, and a bad field falls back to the default", () => {
  const view = readView("?symbol=ethusdt&interval=5m&market=usdm&studies=ema20,bogus,rsi14", DEFAULTS, ALLOWED);
  assert.deepEqual(view, { symbol: "ETHUSDT", interval: "5m", market: "usdm", studies: ["ema20", "rsi14"] });
  assert.equal(viewQuery(view), "?symbol=ETHUSDT&interval=5m&market=usdm&studies=ema20,rsi14");
  assert.deepEqual(readView("?symbol=%3Cscript%3E&interval=7m&market=moon", DEFAULTS, ALLOWED), DEFAULTS);
  assert.equal(viewQuery(DEFAULTS), "?symbol=BTCUSDT&interval=1m");
  assert.deepEqual(readView(viewQuery(view), DEFAULTS, ALLOWED), view);
});

test("USD-M charts offer every interval but 1s", () => {
  assert.equal(chartIntervals("spot").length, 16);
  assert.deepEqual(chartIntervals("usdm"), chartIntervals("spot").filter((code) => code !== "1s"));
});

test("search puts prefix matches first and ignores case and separators", () => {
  const symbols = ["BTCUSDT", "ETHUSDT", "WETHUSDT", "ETHBTC", "SOLUSDT"];
  assert.deepEqual(matchSymbols(symbols, "eth"), ["ETHUSDT", "ETHBTC", "WETHUSDT"]);
  assert.deepEqual(matchSymbols(symbols, "eth/btc"), ["ETHBTC"]);
  assert.deepEqual(matchSymbols(symbols, "  "), symbols);
  assert.deepEqual(matchSymbols(symbols, "xyz"), []);
});

test("the legend shows the candle at its precision and the change from the previous close", () => {
  const previous = candle(60, 100, 101, 99, 100);
  const fields = legendFields(candle(120, 100, 112.346, 98, 110, 1234.5), previous, 2);
  assert.deepEqual(fields, {
    open: "100.00", high: "112.35", low: "98.00", close: "110.00", volume: "1.23K", change: "+10.00%", up: true,
  });
  assert.equal(legendFields(candle(60, 100, 100, 90, 95), undefined, 0).change, "-5.00%");
  assert.equal(volumeText(0.123456789), "0.123457");
  const series = [candle(60, 1, 1, 1, 1), candle(120, 1, 1, 1, 1), candle(240, 1, 1, 1, 1)];
  assert.deepEqual([indexAt(series, 120), indexAt(series, 240), indexAt(series, 180)], [1, 2, -1]);
});

test("one long wick does not set the price range, bodies always fit", () => {
  const calm = Array.from({ length: 20 }, (_, i) => candle(i * 60, 100, 101, 99, 100.5));
  const spiked = [...calm, candle(1200, 100, 150, 99, 100.2)];
  const range = robustRange(spiked);
  assert.equal(range.minValue, 99);
  assert.ok(range.maxValue < 110, `the spike took the scale: ${range.maxValue}`);
  const jump = [...calm, candle(1200, 100, 151, 99, 150)]; // a real move: its body fits
  assert.ok(robustRange(jump).maxValue >= 150);
  assert.equal(robustRange([]), null);
});

test("studies: a snapshot becomes lines, warming-up nulls are gaps, updates upsert by time", () => {
  const lines = snapshotLines({
    ema20: [{ time: 60, value: null }, { time: 120, value: 10.5 }],
    macd: [{ time: 120, macd: 1, signal: 0.5, histogram: 0.5 }],
    unknown: [{ time: 60, value: 1 }],
  });
  assert.deepEqual(lines.ema20.value, [{ time: 60 }, { time: 120, value: 10.5 }]);
  assert.deepEqual(lines.macd.signal, [{ time: 120, value: 0.5 }]);
  assert.equal(lines.unknown, undefined);
  const changed = updatePoints({ time: 180, values: { ema20: 11, macd: { macd: 2, signal: 1, histogram: 1 } } });
  assert.deepEqual(changed.ema20, { value: { time: 180, value: 11 } });
  let points = upsertPoint(lines.ema20.value, changed.ema20.value);
  assert.deepEqual(points.map((p) => p.time), [60, 120, 180]);
  points = upsertPoint(points, { time: 180, value: 12 });
  assert.deepEqual(points.at(-1), { time: 180, value: 12 });
  assert.equal(upsertPoint(points, { time: 30, value: 1 }), points);
});

test("older candles go in front, never twice, oldest first", () => {
  const held = [candle(180, 1, 1, 1, 1), candle(240, 1, 1, 1, 1)];
  const page = [candle(120, 2, 2, 2, 2), candle(60, 3, 3, 3, 3), candle(180, 9, 9, 9, 9)];
  const merged = prependOlder(held, page);
  assert.deepEqual(merged.map((c) => [c.time, c.close]), [[60, 3], [120, 2], [180, 1], [240, 1]]);
  assert.equal(prependOlder(held, []), held);
});

test("the loader stops at the symbol's first candle and waits out a busy hub", async () => {
  const answers = [
    { ok: false, status: 503, body: { code: "history_busy" }, retryAfter: "7" },
    { ok: true, status: 200, body: { candles: [candle(60, 1, 1, 1, 1)], history_start: 60 } },
  ];
  const asked = [];
  const loader = new OlderLoader({ symbol: "BTCUSDT", interval: "1m", market: "spot" }, async (path) => {
    asked.push(path);
    return answers.shift();
  });
  assert.equal(await loader.load(120, 0), null);
  assert.equal(loader.retryAt, 7000);
  assert.equal(await loader.load(120, 6999), null); // not asked again before Retry-After
  assert.equal(asked.length, 1);
  assert.equal((await loader.load(120, 7000)).length, 1);
  assert.ok(loader.atStart);
  assert.equal(await loader.load(60, 8000), null);
  assert.equal(asked.length, 2);
  assert.match(asked[0], /^\/candles\/BTCUSDT\/1m\?before=120&limit=500&market=spot$/);
  assert.ok(OlderLoader.roomFor(20000 - OLDER_PAGE) && !OlderLoader.roomFor(20000 - OLDER_PAGE + 1));

  const refused = new OlderLoader({ symbol: "X", interval: "1m", market: "spot" }, async () => ({
    ok: false, status: 400, body: { code: "before_history" }, retryAfter: null,
  }));
  assert.deepEqual(await refused.load(60), []);
  assert.ok(refused.atStart);
});

test("times are UTC unless local is chosen; the simulated clock's speed is named", () => {
  assert.equal(formatTime(1_780_272_000, "utc"), "2026-06-01 00:00");
  assert.equal(formatTime(1_780_272_061, "utc", { withSeconds: true }), "2026-06-01 00:01:01");
  assert.equal(tickLabel(1_780_272_000, "utc"), "06-01");
  assert.equal(tickLabel(1_780_275_600, "utc"), "01:00");
  assert.equal(clockTime(1_780_275_601_999, "utc"), "01:00:01");
  assert.equal(clockTime(undefined, "utc"), undefined);
  assert.equal(simClockNote(true, 10), "simulated clock ×10");
  assert.equal(simClockNote(true, 2.5), "simulated clock ×2.5");
  assert.equal(simClockNote(true, 1), ""); // the wall clock's pace: nothing to say
  assert.equal(simClockNote(true, undefined), ""); // a hub that does not know
  assert.equal(simClockNote(false, 10), "");
});

test("the depth curve spans both sides up to the deepest cumulative size", () => {
  const level = (price, cumulative) => ({ price, cumulative });
  const curve = depthCurve([level(99, 1), level(98, 3)], [level(101, 2), level(103, 5)]);
  assert.deepEqual(curve, { bids: [[99, 1], [98, 3]], asks: [[101, 2], [103, 5]], low: 98, high: 103, top: 5 });
  assert.equal(depthCurve([], []), null);
});
