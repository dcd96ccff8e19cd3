// The order book panel: the rounding selector and the two sides of the aggregated view.
// Each hub message is the whole view (native_feeds.py), so rendering replaces, never merges.

import { decimalText, escapeHtml } from "./format.js";

export class BookPanel {
  /** @param {HTMLElement} root #orderbook; `onRounding(text)` fires on a user choice. */
  constructor(root, onRounding) {
    this.select = root.querySelector("#rounding");
    this.asks = root.querySelector(".asks");
    this.bids = root.querySelector(".bids");
    this.spread = root.querySelector(".spread");
    this.select.addEventListener("change", () => onRounding(this.select.value));
  }

  /** Fill the selector; `options` are numbers or strings, `chosen` the selected one. */
  setOptions(options, chosen) {
    const values = options.map(decimalText);
    const current = [...this.select.options].map((option) => option.value);
    if (values.join() !== current.join()) {
      this.select.innerHTML = values
        .map((value) => `<option value="${escapeHtml(value)}">${escapeHtml(value)}</option>`)
        .join("");
    }
    if (chosen !== undefined) this.select.value = decimalText(chosen);
  }

  clear() {
    this.asks.innerHTML = "";
    this.bids.innerHTML = "";
    this.spread.textContent = "";
  }

  render(book) {
    const deepest = Math.max(lastCumulative(book.bids), lastCumulative(book.asks)) || 1;
    // Asks are listed best (lowest) first; drawn above the spread, best at the bottom.
    this.asks.innerHTML = [...book.asks].reverse().map((l) => levelRow(l, deepest)).join("");
    this.bids.innerHTML = book.bids.map((l) => levelRow(l, deepest)).join("");
    const depth = book.depth || {};
    this.spread.textContent =
      depth.spread == null ? "" : `spread ${decimalText(round(depth.spread))}`;
  }
}

function levelRow(level, deepest) {
  const width = Math.min(100, (100 * level.cumulative) / deepest).toFixed(1);
  return (
    `<div class="level" style="--depth:${width}%">` +
    `<span class="price">${escapeHtml(level.price_formatted)}</span>` +
    `<span class="amount">${escapeHtml(level.amount_formatted)}</span>` +
    `<span class="total">${escapeHtml(level.cumulative_formatted)}</span></div>`
  );
}

function lastCumulative(levels) {
  return levels.length ? levels[levels.length - 1].cumulative : 0;
}

function round(value) {
  // The spread is a float difference: trim binary noise such as 0.010000000002.
  return Number(value.toPrecision(10));
}
