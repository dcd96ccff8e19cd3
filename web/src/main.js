// Wires the page: reads the view from the address bar, builds the panels, starts the
// socket sessions (the chart's and the sidebar's ticker), and keeps the address bar, the
// sidebar and the SIMULATED badge in step with what is shown.

import { fetchAnswer, loadMarket, loadSimulation, loadSymbols } from "./api.js";
import { BookPanel } from "./book.js";
import { CandleChart } from "./chart.js";
import { simClockNote } from "./clock.js";
import { markInterval, renderIntervals, showBadge, showError, showSimulated, throttled } from "./controls.js";
import { DepthChart } from "./depth.js";
import { chartIntervals, priceText } from "./format.js";
import { OlderLoader, prependOlder } from "./older.js";
import { readView, viewQuery } from "./route.js";
import { MarketSession, initialState } from "./session.js";
import { Sidebar } from "./sidebar.js";
import { socketUrl } from "./socket.js";
import { STUDIES, STUDY_NAMES } from "./studies.js";
import { renderLiquidations, renderTrades } from "./tape.js";
import { Ticker } from "./ticker.js";

const DEFAULTS = { symbol: "BTCUSDT", interval: "1m", market: "spot", studies: [] };
const REFRESH_MS = 30000;
const FIRST_LOAD_RETRY_MS = 2000;
const PANEL_RENDER_MS = 100;

const $ = (selector) => document.querySelector(selector);

async function main() {
  const allowed = { intervals: chartIntervals("spot"), studies: STUDY_NAMES };
  const wanted = readView(window.location.search, DEFAULTS, allowed);
  const state = initialState(wanted.symbol, wanted.interval, wanted.market);
  state.studies = wanted.studies;
  state.zone = "utc";
  window.marketcast = state;
  let market = new Map(); // symbol -> /api/v1/symbols object (the default market's)

  let older = null; // the OlderLoader of the view shown
  const chart = new CandleChart($("#chart"), $("#legend"), () => loadOlder());
  const sidebar = new Sidebar($("#sidebar"), (symbol) => choose({ symbol }));
  const book = new BookPanel($("#orderbook"), (text) => session.selectRounding(text));
  const depth = new DepthChart($("#depth"));
  const intervals = $("#intervals");
  const tradesRoot = $("#trades .rows");
  const liquidationsRoot = $("#liquidations .rows");
  Object.defineProperty(state, "panes", { get: () => chart.studies.panes, enumerable: true });
  // For browser tests and the console: the lightweight-charts object (not enumerable, so
  // a copy of the state stays plain data).
  Object.defineProperty(state, "chart", { value: chart.chart });
  state.olderPages = 0;
  state.atStart = false;

  // Only book snapshots (and /api/v1/symbols) carry the rounding options: keep them.
  let lastOptions = [];
  const drawBook = throttled((bookView) => {
    book.setOptions(lastOptions, bookView.rounding || undefined);
    if (bookView.bids.length || bookView.asks.length) book.render(bookView);
    else book.clear();
    depth.render(bookView);
  }, PANEL_RENDER_MS);

  const view = {
    candles(change, candles, { fit }) {
      if (change === "tail") chart.updateLast(candles);
      else chart.setCandles(candles, { fit });
      if (change !== "tail") chart.markStart(older?.atStart);
    },
    studies(change, lines) {
      if (change === "reset") {
        chart.studies.show(state.studies);
        chart.studies.setAll(lines);
      } else {
        chart.studies.update(lines);
      }
    },
    book(bookView, options) {
      if (options) lastOptions = options;
      drawBook(bookView);
    },
    trades: throttled((list) => renderTrades(tradesRoot, list, state.zone), PANEL_RENDER_MS),
    liquidations: throttled((list, notice) => renderLiquidations(liquidationsRoot, list, notice), PANEL_RENDER_MS),
    badge: (value) => showBadge($("#badge"), value),
    price: (symbol, close) => showPrice(symbol, close),
    error: (message) => showError($("#errors"), message),
  };
  const session = new MarketSession(state, view, socketUrl(window.location));
  const ticker = new Ticker(socketUrl(window.location), (symbol, close) => showPrice(symbol, close));

  function showPrice(symbol, close) {
    sidebar.setPrice(symbol, priceText(close, market.get(symbol)?.pricePrecision));
  }

  // -- the view: symbol, interval, market, studies; the address bar follows it ---------
  function choose(change, { push = true } = {}) {
    const next = { ...currentView(), ...change };
    if (!chartIntervals(next.market).includes(next.interval)) next.interval = DEFAULTS.interval;
    const moved = next.symbol !== state.symbol || next.interval !== state.interval || next.market !== state.market;
    if (moved) {
      older = new OlderLoader({ symbol: next.symbol, interval: next.interval, market: next.market }, fetchAnswer);
      if (next.symbol !== state.symbol || next.market !== state.market) {
        lastOptions = next.market === DEFAULTS.market ? (market.get(next.symbol)?.roundingOptions ?? []) : [];
      }
      session.selectView(next);
    }
    session.selectStudies(next.studies);
    showView();
    const query = viewQuery(currentView());
    if (push && query !== window.location.search) window.history.pushState(null, "", query);
  }

  function currentView() {
    return { symbol: state.symbol, interval: state.interval, market: state.market, studies: state.studies };
  }

  function showView() {
    const meta = state.market === DEFAULTS.market ? market.get(state.symbol) : undefined;
    $("#symbol-name").textContent = meta?.uiName ?? state.symbol;
    $("#market").value = state.market;
    sidebar.select(state.symbol);
    renderIntervals(intervals, chartIntervals(state.market), state.interval);
    for (const box of document.querySelectorAll(".studies-menu input")) box.checked = state.studies.includes(box.value);
    chart.setPriceFormat(meta?.priceFormat);
    if (meta) book.setOptions(meta.roundingOptions, session.rounding ?? meta.defaultRounding);
  }

  window.addEventListener("popstate", () => {
    choose(readView(window.location.search, DEFAULTS, allowed), { push: false });
  });

  // -- older candles when the chart reaches its left edge -------------------------------
  async function loadOlder() {
    const loader = older;
    const first = state.candles[0];
    if (!loader || !first || !OlderLoader.roomFor(state.candles.length)) return;
    const page = await loader.load(first.time);
    if (loader !== older) return; // the view changed meanwhile
    if (page === null) {
      // Busy (the hub's 503 says when to ask again) or failed: ask again if still wanted.
      if (!loader.loading) setTimeout(() => chart.atLeftEdge() && loadOlder(), Math.max(1000, loader.retryAt - Date.now()));
      return;
    }
    const before = state.candles.length;
    state.candles = prependOlder(state.candles, page);
    const added = state.candles.length - before;
    state.olderPages += 1;
    state.atStart = loader.atStart;
    if (added) chart.prependCandles(state.candles, added);
    chart.markStart(loader.atStart);
  }

  // -- controls ----------------------------------------------------------------------
  intervals.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-interval]");
    if (!button) return;
    markInterval(intervals, button.dataset.interval);
    choose({ interval: button.dataset.interval });
  });

  $(".studies-menu").innerHTML = STUDY_NAMES.map(
    (name) => `<label><input type="checkbox" value="${name}" /> ${STUDIES[name].label}</label>`,
  ).join("");
  $(".studies-menu").addEventListener("change", () => {
    const names = [...document.querySelectorAll(".studies-menu input:checked")].map((box) => box.value);
    choose({ studies: STUDY_NAMES.filter((name) => names.includes(name)) });
  });

  $("#market").addEventListener("change", async (event) => {
    const chosen = event.target.value;
    await showSymbols(chosen);
    choose({ market: chosen });
  });

  toggle($("#zone"), ["UTC", "Local"], (label) => {
    state.zone = label === "UTC" ? "utc" : "local";
    chart.setZone(state.zone);
    chart.drawLegend();
    view.trades(state.trades);
  });
  toggle($("#scale"), ["Log", "Log"], (_, pressed) => chart.setScaleMode(pressed ? "log" : "normal"));

  $("#tabs").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-tab]");
    if (button) showTab(button.dataset.tab);
  });

  function showTab(tab) {
    $("#layout").dataset.tab = tab;
    for (const button of document.querySelectorAll("#tabs button")) {
      button.classList.toggle("active", button.dataset.tab === tab);
    }
    if (tab === "book") depth.paint(); // a canvas hidden while drawn has no size
  }

  // -- the market's symbols, 24 h figures, health ---------------------------------------
  async function showSymbols(forMarket) {
    const listed = await loadSymbols(forMarket);
    // A market with no configured symbols lists the default market's: they start on demand.
    const fallback = forMarket === DEFAULTS.market ? undefined : await loadSymbols(DEFAULTS.market);
    const symbols = listed?.length ? listed : fallback?.length ? fallback : [state.symbol];
    sidebar.setSymbols(symbols);
    sidebar.select(state.symbol);
    ticker.follow(listed?.length ? listed : [], forMarket);
    if (forMarket === DEFAULTS.market) sidebar.setMarket([...market.values()]);
    return symbols;
  }

  async function refreshMarket() {
    const loaded = await loadMarket();
    if (!loaded) return false;
    market = loaded;
    if (state.market === DEFAULTS.market) sidebar.setMarket([...market.values()]);
    // The ticker may be minutes old: the live close of the chart wins for the selection.
    const last = state.candles[state.candles.length - 1];
    if (last) view.price(state.symbol, last.close);
    if (!lastOptions.length && state.market === DEFAULTS.market) {
      lastOptions = market.get(state.symbol)?.roundingOptions ?? [];
    }
    showView();
    return true;
  }

  async function refreshHealth() {
    const simulation = await loadSimulation();
    if (simulation === undefined) return;
    state.simulated = simulation.simulated;
    state.simSpeed = simulation.speed;
    showSimulated($("#simulated"), simulation.simulated);
    const note = $("#sim-clock");
    note.textContent = simClockNote(simulation.simulated, simulation.speed);
    note.hidden = note.textContent === "";
  }

  /** Sidebar figures at load: retried quickly until the hub answers, then every 30 s. */
  async function firstMarketLoad() {
    while (!(await refreshMarket())) await new Promise((done) => setTimeout(done, FIRST_LOAD_RETRY_MS));
  }

  showBadge($("#badge"), state.badge);
  older = new OlderLoader({ symbol: state.symbol, interval: state.interval, market: state.market }, fetchAnswer);
  showTab("book");
  showView();
  const [symbols] = await Promise.all([showSymbols(state.market), refreshHealth()]);
  // No symbol asked for, and the default is not listed: the first listed one.
  if (!new URLSearchParams(window.location.search).has("symbol") && !symbols.includes(state.symbol)) {
    state.symbol = symbols[0];
    older = new OlderLoader({ symbol: state.symbol, interval: state.interval, market: state.market }, fetchAnswer);
    showView();
  }
  window.history.replaceState(null, "", viewQuery(currentView()));
  session.start();
  ticker.start();
  firstMarketLoad();
  setInterval(refreshMarket, REFRESH_MS);
  setInterval(refreshHealth, REFRESH_MS);
}

/** A two-state button: `labels` for off and on; `onChange(label, pressed)`. */
function toggle(button, labels, onChange) {
  button.setAttribute("aria-pressed", "false");
  button.addEventListener("click", () => {
    const pressed = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", String(pressed));
    button.textContent = labels[pressed ? 1 : 0];
    onChange(button.textContent, pressed);
  });
}

main();
