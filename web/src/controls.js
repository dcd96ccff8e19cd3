// Small pieces of chrome: the interval switcher, the connection and SIMULATED badges,
// the error line, and a render throttle.

import { escapeHtml } from "./format.js";

export function renderIntervals(root, intervals, active) {
  root.innerHTML = intervals
    .map((code) => `<button type="button" data-interval="${escapeHtml(code)}">${escapeHtml(code)}</button>`)
    .join("");
  markInterval(root, active);
}

export function markInterval(root, active) {
  for (const button of root.querySelectorAll("button")) {
    button.classList.toggle("active", button.dataset.interval === active);
  }
}

export function showBadge(element, value) {
  element.textContent = value;
  element.dataset.state = value;
}

export function showSimulated(element, simulated) {
  element.hidden = !simulated;
}

/** Show an error message of the hub for a while (the connection stays up). */
export function showError(element, message) {
  element.textContent = message ? `${message.code}: ${message.message}` : "";
  element.title = element.textContent;
  clearTimeout(element.clearTimer);
  element.clearTimer = setTimeout(() => {
    element.textContent = "";
  }, 8000);
}

/**
 * Call `draw` with the latest arguments at most every `ms` milliseconds. Trades and
 * book views can arrive many times a second; the page's state is updated at once, only
 * the DOM work is spaced. A timer (not requestAnimationFrame) keeps hidden tabs current.
 */
export function throttled(draw, ms) {
  let timer = null;
  let pending = null;
  let last = 0;
  const flush = () => {
    timer = null;
    last = Date.now();
    const args = pending;
    pending = null;
    draw(...args);
  };
  return (...args) => {
    pending = args;
    if (timer !== null) return;
    timer = setTimeout(flush, Math.max(0, last + ms - Date.now()));
  };
}
