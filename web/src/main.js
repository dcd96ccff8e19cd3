// Wires the page: loads the symbol list and intervals, builds the panels, starts the one
// socket session, and keeps the sidebar and the SIMULATED badge fresh.

import { loadIntervals, loadMarket, loadSimulated, loadSymbols } from "./api.js";
import { BookPanel } from "./book.js";
import { CandleChart } from "./chart.js";
import { markInterval, renderIntervals, showBadge, showError, showSimulated, throttled } from "./controls.js";
import { priceText, sortIntervals } from "./format.js";
import { MarketSession, initialState } from "./session.js";
import { Sidebar } from "./sidebar.js";
import { socketUrl } from "./socket.js";
import { renderLiquidations, renderTrades } from "./tape.js";

const DEFAULT_SYMBOL = "BTCUSDT";
const DEFAULT_INTERVAL = "1m";
const REFRESH_MS = 30000;
const PANEL_RENDER_MS = 100;

const $ = (selector) => document.querySelector(selector);

async function main() {
  const state = initialState(DEFAULT_SYMBOL, DEFAULT_INTERVAL);
  window.marketcast = state;
  let market = new Map(); // symbol -> /api/v1/symbols object

  const chart = new CandleChart($("#chart"));
  const sidebar = new Sidebar($("#sidebar"), (symbol) => choose(symbol));
  const book = new BookPanel($("#orderbook"), (text) => session.selectRounding(text));
  const intervals = $("#intervals");
  const tradesRoot = $("#trades .rows");
  const liquidationsRoot = $("#liquidations .rows");

  // Only book snapshots (and /api/v1/symbols) carry the rounding options: keep them.
  let lastOptions = [];
  const drawBook = throttled((bookView) => {
    book.setOptions(lastOptions, bookView.rounding || undefined);
    if (bookView.bids.length || bookView.asks.length) book.render(bookView);
    else book.clear();
  }, PANEL_RENDER_MS);

  const view = {
    candles(change, candles, { fit }) {
      if (change === "tail") chart.updateLast(candles[candles.length - 1]);
      else chart.setCandles(candles, { fit });
    },
    book(bookView, options) {
      if (options) lastOptions = options;
      drawBook(bookView);
    },
    trades: throttled((list) => renderTrades(tradesRoot, list), PANEL_RENDER_MS),
    liquidations: throttled((list, notice) => renderLiquidations(liquidationsRoot, list, notice), PANEL_RENDER_MS),
    badge: (value) => showBadge($("#badge"), value),
    price: (symbol, close) => sidebar.setPrice(symbol, priceText(close, market.get(symbol)?.pricePrecision)),
    error: (message) => showError($("#errors"), message),
  };
  const session = new MarketSession(state, view, socketUrl(window.location));

  function choose(symbol) {
    if (symbol === state.symbol) return;
    sidebar.select(symbol);
    lastOptions = market.get(symbol)?.roundingOptions ?? [];
    // No rounding: the hub applies the symbol's default, and the snapshot says which.
    session.selectSymbol(symbol);
    showSymbol(symbol);
  }

  function showSymbol(symbol) {
    const meta = market.get(symbol);
    $("#symbol-name").textContent = meta?.uiName ?? symbol;
    chart.setPriceFormat(meta?.priceFormat);
    if (meta) book.setOptions(meta.roundingOptions, session.rounding ?? meta.defaultRounding);
  }

  intervals.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-interval]");
    if (!button) return;
    markInterval(intervals, button.dataset.interval);
    session.selectInterval(button.dataset.interval);
  });

  async function refreshMarket() {
    const loaded = await loadMarket();
    if (!loaded) return;
    market = loaded;
    sidebar.setMarket([...market.values()]);
    // The ticker may be minutes old: the live close of the chart wins for the selection.
    const last = state.candles[state.candles.length - 1];
    if (last) view.price(state.symbol, last.close);
    if (!lastOptions.length) lastOptions = market.get(state.symbol)?.roundingOptions ?? [];
    showSymbol(state.symbol);
  }

  async function refreshHealth() {
    const simulated = await loadSimulated();
    if (simulated === undefined) return;
    state.simulated = simulated;
    showSimulated($("#simulated"), simulated);
  }

  showBadge($("#badge"), state.badge);
  const [symbols] = await Promise.all([loadSymbols(), refreshHealth()]);
  const list = symbols?.length ? symbols : [DEFAULT_SYMBOL];
  state.symbol = list.includes(DEFAULT_SYMBOL) ? DEFAULT_SYMBOL : list[0];
  sidebar.setSymbols(list);
  sidebar.select(state.symbol);
  $("#symbol-name").textContent = state.symbol;

  const served = sortIntervals(await loadIntervals(state.symbol));
  const codes = served.length ? served : [DEFAULT_INTERVAL];
  state.interval = codes.includes(DEFAULT_INTERVAL) ? DEFAULT_INTERVAL : codes[0];
  renderIntervals(intervals, codes, state.interval);

  session.start();
  refreshMarket();
  setInterval(refreshMarket, REFRESH_MS);
  setInterval(refreshHealth, REFRESH_MS);
}

main();
