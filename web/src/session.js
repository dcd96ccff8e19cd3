// What the page is subscribed to, and how each hub message changes the page state.
//
// The state object is `window.marketcast` (the browser tests read it): it always holds
// what the chart and panels show. Every (re)open subscribes to the current selection;
// candles resume with `since` = the last open time held and trades with the last id
// (docs/native.md), so an outage, a 4008 "slow consumer" close or a killed socket leaves no
// gap and no duplicate.

import { applySnapshot, resumeSince, upsertCandle } from "./candles.js";
import { lastTradeId, mergeLiquidations, mergeTrades } from "./feeds.js";
import { decimalText } from "./format.js";
import { HubSocket } from "./socket.js";
import { snapshotLines, updatePoints, upsertPoint } from "./studies.js";

export const BOOK_LIMIT = 15;
export const TRADES_LIMIT = 50;
export const LIQUIDATIONS_LIMIT = 50;
// The chart wants at least 200 candles; the hub refuses a limit above its buffer, in
// which case the limit drops to the buffer size it names.
export const CANDLES_LIMIT = 500;
const RETRY_NOT_READY_MS = 2000;

export function initialState(symbol, interval, market = "spot") {
  return {
    symbol,
    interval,
    market,
    candles: [],
    studies: [], // the indicator studies shown (names)
    studyLines: {}, // name -> {field: [{time, value}]}
    badge: "connecting",
    simulated: false,
    simSpeed: undefined, // the simulated exchange's clock speed, as /health states it
    connects: 0,
    ws: null,
    book: { rounding: "", bids: [], asks: [] },
    trades: [],
    liquidations: [],
    messages: 0,
    lastError: null,
  };
}

export class MarketSession {
  /**
   * @param {object} state window.marketcast
   * @param {object} view callbacks that draw: candles(change, candles, opts), book(book),
   *   trades(list), liquidations(list, notice), badge(value), price(symbol, close), error(msg),
   *   studies(change, lines)
   */
  constructor(state, view, url) {
    this.state = state;
    this.view = view;
    this.socket = new HubSocket(url, {
      onOpen: () => this.onOpen(),
      onMessage: (message) => this.onMessage(message),
      onDown: () => this.onDown(),
    });
    this.candlesLimit = CANDLES_LIMIT;
    this.tradesLimit = TRADES_LIMIT;
    // Whether the pending candles/trades snapshot answers a resume (merge) or a fresh
    // subscription (replace).
    this.candleResume = false;
    this.tradeResume = false;
    this.candlesSynced = false;
    this.rounding = undefined; // the rounding asked for; undefined = the symbol's default
    this.liquidationNotice = "";
    this.retryTimer = null;
  }

  start() {
    // A getter, so `window.marketcast.ws` is always the socket in use, even between a
    // close and the backoff's next attempt (tests close it to simulate an outage).
    Object.defineProperty(this.state, "ws", {
      get: () => this.socket.ws,
      enumerable: true,
      configurable: true,
    });
    this.socket.start();
  }

  // -- selection ---------------------------------------------------------------------
  /** Show another view: any of symbol, interval and market (the rest stay). */
  selectView({ symbol = this.state.symbol, interval = this.state.interval, market = this.state.market }) {
    const { state } = this;
    if (symbol === state.symbol && market === state.market) {
      this.selectInterval(interval);
      return;
    }
    this.unsubscribeAll();
    Object.assign(state, {
      symbol,
      interval,
      market,
      candles: [],
      studyLines: {},
      book: { rounding: "", bids: [], asks: [] },
      trades: [],
      liquidations: [],
    });
    this.rounding = undefined;
    this.liquidationNotice = "";
    this.redrawAll();
    this.subscribeCandles();
    this.subscribeStudies();
    this.subscribeFeeds();
  }

  selectInterval(interval) {
    if (interval === this.state.interval) return;
    this.unsubscribeTopic();
    this.state.interval = interval;
    this.state.candles = [];
    this.state.studyLines = {};
    this.view.candles("reset", [], { fit: true });
    this.view.studies("reset", {});
    this.subscribeCandles();
    this.subscribeStudies();
  }

  /** Show exactly these indicator studies (names of studies.js). */
  selectStudies(names) {
    const { state } = this;
    if (names.join() === state.studies.join()) return;
    state.studies = [...names];
    state.studyLines = {};
    this.view.studies("reset", {});
    if (names.length) this.subscribeStudies();
    else this.send(this.tagged({ op: "unsubscribe", channel: "indicators", interval: state.interval }));
  }

  unsubscribeTopic() {
    const { interval } = this.state;
    this.send(this.tagged({ op: "unsubscribe", channel: "candles", interval }));
    if (this.state.studies.length) this.send(this.tagged({ op: "unsubscribe", channel: "indicators", interval }));
  }

  unsubscribeAll() {
    this.unsubscribeTopic();
    for (const channel of ["orderbook", "trades"]) this.send(this.tagged({ op: "unsubscribe", channel }));
    this.send({ ...this.tagged({ op: "unsubscribe", channel: "liquidations" }), market: "usdm" });
  }

  /** `message` for the current symbol and market (every op names both). */
  tagged(message) {
    return { ...message, symbol: this.state.symbol, market: this.state.market };
  }

  /** A rounding chosen in the selector: the same subscription with new parameters. */
  selectRounding(text) {
    this.rounding = text;
    this.subscribeBook();
  }

  // -- connection --------------------------------------------------------------------
  onOpen() {
    this.state.connects += 1;
    this.candlesSynced = false;
    this.subscribeCandles();
    this.subscribeStudies();
    this.subscribeFeeds();
  }

  onDown() {
    this.candlesSynced = false;
    this.setBadge("reconnecting");
  }

  send(message) {
    return this.socket.send(message);
  }

  subscribeCandles() {
    const { interval, candles } = this.state;
    const since = resumeSince(candles);
    this.candleResume = since !== undefined;
    const message = this.tagged({ op: "subscribe", channel: "candles", interval, limit: this.candlesLimit });
    if (since !== undefined) message.since = since;
    this.send(message);
  }

  /** The studies' points are small and recomputed by the hub: a fresh snapshot each time. */
  subscribeStudies() {
    const { interval, studies } = this.state;
    if (!studies.length) return;
    const limit = Math.min(this.candlesLimit, CANDLES_LIMIT);
    this.send(this.tagged({ op: "subscribe", channel: "indicators", interval, names: studies, limit }));
  }

  subscribeFeeds() {
    this.subscribeBook();
    const since = lastTradeId(this.state.trades);
    this.tradeResume = since !== undefined;
    const trades = this.tagged({ op: "subscribe", channel: "trades", limit: this.tradesLimit });
    if (since !== undefined) trades.since = since;
    this.send(trades);
    // Liquidations exist for USD-M perpetuals only; spot shows the perpetual's.
    this.send({ ...this.tagged({ op: "subscribe", channel: "liquidations", limit: LIQUIDATIONS_LIMIT }), market: "usdm" });
  }

  subscribeBook() {
    const message = this.tagged({ op: "subscribe", channel: "orderbook", limit: BOOK_LIMIT });
    if (this.rounding !== undefined) message.rounding = this.rounding;
    this.send(message);
  }

  // -- messages ----------------------------------------------------------------------
  onMessage(message) {
    this.state.messages += 1;
    const ours =
      (message.symbol === undefined || message.symbol === this.state.symbol) &&
      (message.market === undefined || message.market === this.state.market || message.channel === "liquidations");
    if (!ours) return; // late messages of a view the page has left
    switch (message.channel) {
      case "candles":
        if (message.interval === this.state.interval) this.onCandles(message);
        return;
      case "indicators":
        if (message.interval === this.state.interval) this.onStudies(message);
        return;
      case "orderbook":
        this.onBook(message);
        return;
      case "trades":
        this.onTrades(message);
        return;
      case "liquidations":
        this.onLiquidations(message);
        return;
      default:
        if (message.type === "error") this.onError(message);
    }
  }

  onCandles(message) {
    if (message.type === "snapshot") {
      const reset = Boolean(message.reset);
      const resume = this.candleResume;
      this.state.candles = applySnapshot(this.state.candles, message.candles, { resume, reset });
      this.candleResume = false;
      this.view.candles("history", this.state.candles, { fit: !resume || reset });
      this.candlesSynced = true;
      this.socket.markHealthy();
      this.setBadge("live");
    } else if (message.type === "candle") {
      const { candles, change } = upsertCandle(this.state.candles, message.candle);
      this.state.candles = candles;
      if (change !== "none") this.view.candles(change, candles, {});
    } else {
      return;
    }
    const last = this.state.candles[this.state.candles.length - 1];
    if (last) this.view.price(this.state.symbol, last.close);
  }

  onStudies(message) {
    const { state } = this;
    if (message.type === "snapshot") {
      state.studyLines = snapshotLines(message.series ?? {});
      this.view.studies("reset", state.studyLines);
    } else if (message.type === "indicators") {
      const changed = updatePoints(message);
      for (const [name, fields] of Object.entries(changed)) {
        const lines = state.studyLines[name];
        if (!lines) continue;
        for (const [field, point] of Object.entries(fields)) lines[field] = upsertPoint(lines[field] ?? [], point);
      }
      this.view.studies("update", changed);
    }
  }

  onBook(message) {
    if (message.type !== "snapshot" && message.type !== "orderbook") return;
    // Views of the previous rounding may still be queued ahead of the new snapshot.
    if (this.rounding !== undefined && Number(message.rounding) !== Number(this.rounding)) return;
    this.state.book = {
      symbol: message.symbol,
      rounding: decimalText(message.rounding),
      bids: message.bids,
      asks: message.asks,
      depth: message.depth,
    };
    this.view.book(this.state.book, message.rounding_options);
  }

  onTrades(message) {
    if (message.type === "snapshot") {
      const merge = this.tradeResume && !message.reset;
      this.state.trades = mergeTrades(merge ? this.state.trades : [], message.trades);
      this.tradeResume = false;
    } else if (message.type === "trades") {
      this.state.trades = mergeTrades(this.state.trades, message.trades);
    } else {
      return;
    }
    this.view.trades(this.state.trades);
  }

  onLiquidations(message) {
    let incoming;
    if (message.type === "snapshot") incoming = message.liquidations;
    else if (message.type === "liquidation") incoming = [message.liquidation];
    else return;
    this.liquidationNotice = "";
    this.state.liquidations = mergeLiquidations(this.state.liquidations, incoming);
    this.view.liquidations(this.state.liquidations, "");
  }

  onError(message) {
    this.state.lastError = message;
    const maximum = Number(/1\.\.(\d+)/.exec(message.message || "")?.[1]);
    if (message.code === "invalid_limit" && maximum > 0) {
      this.lowerLimits(maximum);
    } else if (message.code === "no_liquidations") {
      this.liquidationNotice = `No liquidations: ${this.state.symbol} has no USD-M perpetual.`;
      this.view.liquidations([], this.liquidationNotice);
      return;
    } else if (message.code === "invalid_rounding") {
      // The hub kept the old subscription: show what it still sends.
      this.rounding = this.state.book.rounding || undefined;
      this.view.book(this.state.book);
    } else if (message.code === "not_ready" && !this.candlesSynced) {
      this.retryCandlesSoon();
    }
    this.view.error(message);
  }

  lowerLimits(maximum) {
    if (this.candlesLimit > maximum) {
      this.candlesLimit = maximum;
      this.subscribeCandles();
      this.subscribeStudies();
    }
    if (this.tradesLimit > maximum) {
      this.tradesLimit = maximum;
      this.subscribeFeeds();
    }
  }

  retryCandlesSoon() {
    if (this.retryTimer !== null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.candlesSynced) this.subscribeCandles();
    }, RETRY_NOT_READY_MS);
  }

  setBadge(value) {
    this.state.badge = value;
    this.view.badge(value);
  }

  redrawAll() {
    this.view.candles("reset", this.state.candles, { fit: true });
    this.view.studies("reset", this.state.studyLines);
    this.view.book(this.state.book);
    this.view.trades(this.state.trades);
    this.view.liquidations(this.state.liquidations, "");
  }
}
