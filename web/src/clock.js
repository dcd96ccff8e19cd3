// Time on the page: UTC by default or the browser's zone on a toggle, and how fast the
// exchange's clock runs (the demo's simulator runs ×N). Pure.

const pad = (n) => String(n).padStart(2, "0");

/** `YYYY-MM-DD HH:MM` (with `:SS` when asked) of epoch `seconds`, in UTC or local time. */
export function formatTime(seconds, zone, { withSeconds = false } = {}) {
  const d = new Date(seconds * 1000);
  const utc = zone !== "local";
  const parts = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  const [y, mo, day, h, mi, s] = parts;
  return `${y}-${pad(mo)}-${pad(day)} ${pad(h)}:${pad(mi)}${withSeconds ? `:${pad(s)}` : ""}`;
}

/** `HH:MM:SS` of epoch milliseconds in the zone; undefined without a time. */
export function clockTime(milliseconds, zone) {
  if (!Number.isFinite(milliseconds)) return undefined;
  return formatTime(Math.floor(milliseconds / 1000), zone, { withSeconds: true }).slice(11);
}

/** A chart axis label: the time of day, or the date where a day (month, year) starts. */
export function tickLabel(seconds, zone) {
  const text = formatTime(seconds, zone);
  const [date, time] = text.split(" ");
  return time === "00:00" ? date.slice(5) : time;
}

const ROUND_RATES = [2, 5, 10, 15, 20, 30, 50, 60, 100, 120, 300, 600, 1000];

// Samples of the exchange clock at least this far apart (wall ms) give a rate.
const RATE_SPAN_MS = 3000;

/**
 * The exchange clock's rate against the wall clock, from (exchange ms, wall ms) samples
 * such as a candle message's `event_time` and its arrival. Undefined until the samples
 * span `RATE_SPAN_MS`; rounded to a whole factor above 1.5, where the demo's speeds lie.
 */
export class ClockRate {
  constructor() {
    this.first = null;
    this.last = null;
  }

  sample(exchangeMs, wallMs) {
    if (!Number.isFinite(exchangeMs)) return;
    if (this.first === null) this.first = [exchangeMs, wallMs];
    this.last = [exchangeMs, wallMs];
  }

  get rate() {
    if (this.first === null) return undefined;
    const wall = this.last[1] - this.first[1];
    if (wall < RATE_SPAN_MS) return undefined;
    const rate = (this.last[0] - this.first[0]) / wall;
    if (rate <= 1.5) return 1;
    // Pushes come in bursts, so a measured rate wobbles a few percent around the speed
    // the simulator was started with; those are round numbers.
    const round = ROUND_RATES.find((r) => Math.abs(rate - r) / r < 0.08);
    return round ?? Math.round(rate);
  }
}
