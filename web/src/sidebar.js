// The symbol list: one row per configured symbol, with the 24 h figures of
// /api/v1/symbols (refreshed by the caller), live prices, and the search box that filters
// it (type anywhere on the page, Enter opens the best match, Escape clears).

import { escapeHtml } from "./format.js";
import { matchSymbols } from "./search.js";

export class Sidebar {
  /** @param {HTMLElement} root #sidebar; `onSelect(symbol)` fires on a click. */
  constructor(root, onSelect) {
    this.list = root.querySelector(".symbols");
    this.search = root.querySelector(".search");
    this.symbols = [];
    this.rows = new Map();
    this.search.addEventListener("input", () => this.filter());
    this.search.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        const [best] = matchSymbols(this.symbols, this.search.value);
        if (best) {
          onSelect(best);
          this.clearSearch();
        }
      } else if (event.key === "Escape") {
        this.clearSearch();
      }
    });
    // A letter or digit typed while nothing else takes keys starts a search.
    document.addEventListener("keydown", (event) => {
      const target = event.target;
      const typing = target instanceof HTMLInputElement || target instanceof HTMLSelectElement;
      if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
      if (/^[a-z0-9]$/i.test(event.key)) this.search.focus();
    });
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
    this.symbols = [...symbols];
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

  /** Show only the rows matching the search box, best match first. */
  filter() {
    const shown = matchSymbols(this.symbols, this.search.value);
    const rank = new Map(shown.map((symbol, index) => [symbol, index]));
    for (const [symbol, row] of this.rows) {
      row.hidden = !rank.has(symbol);
      row.style.order = String(rank.get(symbol) ?? 0);
    }
  }

  clearSearch() {
    this.search.value = "";
    this.search.blur();
    this.filter();
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
