// The symbol list: one row per configured symbol, with the 24 h figures of
// /api/v1/symbols (refreshed by the caller) and the selected symbol's live price.

import { escapeHtml } from "./format.js";

export class Sidebar {
  /** @param {HTMLElement} root #sidebar; `onSelect(symbol)` fires on a click. */
  constructor(root, onSelect) {
    this.list = root.querySelector(".symbols");
    this.rows = new Map();
    this.list.addEventListener("click", (event) => {
      const row = event.target.closest(".symbol-row");
      if (row) onSelect(row.dataset.symbol);
    });
    // Rows are focusable buttons: Enter and Space choose them too.
    this.list.addEventListener("keydown", (event) => {
      const row = event.target.closest(".symbol-row");
      if (row && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        onSelect(row.dataset.symbol);
      }
    });
  }

  setSymbols(symbols) {
    this.list.innerHTML = symbols
      .map(
        (s) =>
          `<li class="symbol-row" data-symbol="${escapeHtml(s)}" role="button" tabindex="0">` +
          `<span class="name">${escapeHtml(s)}</span><span class="price">—</span>` +
          `<span class="volume"></span><span class="change"></span></li>`,
      )
      .join("");
    this.rows = new Map([...this.list.querySelectorAll(".symbol-row")].map((r) => [r.dataset.symbol, r]));
  }

  select(symbol) {
    for (const [name, row] of this.rows) row.classList.toggle("active", name === symbol);
  }

  /** 24 h figures from /api/v1/symbols objects (camelCase, docs/orderfox.md). */
  setMarket(metas) {
    for (const meta of metas) {
      const row = this.rows.get(meta.symbol);
      if (!row) continue;
      if (meta.uiName) row.querySelector(".name").textContent = meta.uiName;
      if (meta.lastPriceFormatted != null) this.setPrice(meta.symbol, meta.lastPriceFormatted);
      row.querySelector(".volume").textContent = meta.volume24hFormatted ?? "";
      const change = row.querySelector(".change");
      const percent = meta.priceChangePercent24h;
      change.textContent = meta.priceChangePercent24hFormatted ?? "—";
      change.classList.toggle("up", percent > 0);
      change.classList.toggle("down", percent < 0);
    }
  }

  setPrice(symbol, text) {
    const row = this.rows.get(symbol);
    if (row) row.querySelector(".price").textContent = text;
  }
}
