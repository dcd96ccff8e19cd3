// Older candles for a chart scrolled to its left edge: the rule that joins a page of
// them to the series held (pure), and the loader that asks the hub for the next page.

import { MAX_CANDLES, toCandle } from "./candles.js";

export const OLDER_PAGE = 500;

/** The series with `older` candles in front: only those older than its first, sorted. */
export function prependOlder(candles, older) {
  const first = candles.length ? candles[0].time : Infinity;
  const fresh = older.filter((c) => c.time < first).map(toCandle);
  fresh.sort((a, b) => a.time - b.time);
  return fresh.length ? [...fresh, ...candles] : candles;
}

/**
 * Loads pages of older candles (`GET /candles?before=`) for one view, one page at a time.
 * `atStart` turns true when the hub says nothing older exists (the symbol's first
 * candle, or a page shorter than asked); a new view gets a new loader.
 */
export class OlderLoader {
  constructor(view, fetchJson) {
    this.view = view; // {symbol, interval, market}
    this.fetchJson = fetchJson;
    this.loading = false;
    this.atStart = false;
    this.retryAt = 0;
  }

  /** Whether a series of `held` candles may grow by another page (the memory bound). */
  static roomFor(held) {
    return held + OLDER_PAGE <= MAX_CANDLES;
  }

  /** The next page before `firstTime` (seconds), or null (busy, at the start, failed). */
  async load(firstTime, now = Date.now()) {
    if (this.loading || this.atStart || now < this.retryAt) return null;
    this.loading = true;
    try {
      const { symbol, interval, market } = this.view;
      const query = new URLSearchParams({ before: String(firstTime), limit: String(OLDER_PAGE), market });
      const answer = await this.fetchJson(`/candles/${encodeURIComponent(symbol)}/${interval}?${query}`);
      if (answer.status === 400 && answer.body?.code === "before_history") {
        this.atStart = true;
        return [];
      }
      if (!answer.ok) {
        // 503 history_busy says when to ask again; anything else waits a little.
        this.retryAt = now + 1000 * (Number(answer.retryAfter) || 5);
        return null;
      }
      // A page is short only where the exchange has no candles (its `gaps`) or where the
      // symbol's history starts (`history_start`): only the latter ends the scrolling.
      const candles = answer.body.candles ?? [];
      if (answer.body.history_start !== undefined || !candles.length) this.atStart = true;
      return candles;
    } finally {
      this.loading = false;
    }
  }
}
