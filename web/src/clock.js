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

/**
 * The note beside the SIMULATED badge: how fast the simulated exchange's clock runs, as
 * the hub states it; empty when live, unknown, or at the wall clock's own pace.
 */
export function simClockNote(simulated, speed) {
  return simulated && speed !== undefined && speed !== 1 ? `simulated clock ×${speed}` : "";
}
