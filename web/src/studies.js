// Indicator studies the chart offers, fed by the hub's `indicators` channel
// (docs/native.md): what each draws, and how snapshots and updates change the points
// held. Pure; studychart.js draws them.

/**
 * Each study: its label, where it draws (`price` over the candles, or a lower pane of
 * its own) and its lines: the field of the hub's value (`value` for single-valued ones)
 * and how to draw it.
 */
export const STUDIES = {
  ema20: { label: "EMA 20", pane: "price", lines: [{ field: "value", color: "#f0b90b" }] },
  ema50: { label: "EMA 50", pane: "price", lines: [{ field: "value", color: "#8e7cc3" }] },
  bb20: {
    label: "Bollinger 20",
    pane: "price",
    lines: [
      { field: "upper", color: "rgba(88, 166, 255, 0.8)" },
      { field: "middle", color: "rgba(88, 166, 255, 0.45)" },
      { field: "lower", color: "rgba(88, 166, 255, 0.8)" },
    ],
  },
  rsi14: {
    label: "RSI 14",
    pane: "lower",
    lines: [{ field: "value", color: "#c678dd" }],
    levels: [30, 70],
  },
  macd: {
    label: "MACD",
    pane: "lower",
    lines: [
      { field: "histogram", color: "rgba(125, 133, 144, 0.6)", histogram: true },
      { field: "macd", color: "#58a6ff" },
      { field: "signal", color: "#f0883e" },
    ],
  },
};

export const STUDY_NAMES = Object.keys(STUDIES);

/** A study's points by line field: `{value: [{time, value}], ...}`; a warming-up null is a gap. */
export function studyLines(name, points) {
  const lines = {};
  for (const { field } of STUDIES[name].lines) {
    lines[field] = points.map((point) => linePoint(point.time, field === "value" ? point.value : point[field]));
  }
  return lines;
}

/** Every study of an `indicators` snapshot's `series`, as `studyLines`. */
export function snapshotLines(series) {
  const held = {};
  for (const [name, points] of Object.entries(series)) {
    if (STUDIES[name]) held[name] = studyLines(name, points);
  }
  return held;
}

/**
 * The points one `indicators` update changes: `{name: {field: point}}` at the update's
 * time. Single-valued studies come as a bare number, the others as objects.
 */
export function updatePoints(message) {
  const changed = {};
  for (const [name, value] of Object.entries(message.values ?? {})) {
    if (!STUDIES[name]) continue;
    changed[name] = {};
    for (const { field } of STUDIES[name].lines) {
      const raw = field === "value" ? value : value?.[field];
      changed[name][field] = linePoint(message.time, raw);
    }
  }
  return changed;
}

/** `points` with `point` upserted by time (the last one replaced, or a newer one appended). */
export function upsertPoint(points, point) {
  const last = points[points.length - 1];
  if (last === undefined || point.time > last.time) return [...points, point];
  const at = points.findLastIndex((p) => p.time === point.time);
  if (at === -1) return points; // older than what is held: the next snapshot brings it
  const next = points.slice();
  next[at] = point;
  return next;
}

function linePoint(time, value) {
  return typeof value === "number" && Number.isFinite(value) ? { time, value } : { time };
}
