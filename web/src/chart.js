// The candlestick chart and its volume histogram (TradingView lightweight-charts v5), the
// legend of the candle under the cursor, indicator studies, and the left-edge signal that
// asks for older candles. It draws whatever series the page holds; the series rules live
// in candles.js, the legend's in legend.js, the price range's in scale.js.

import {
  CandlestickSeries,
  ColorType,
  CrosshairMode,
  HistogramSeries,
  PriceScaleMode,
  createChart,
  createSeriesMarkers,
} from "lightweight-charts";

import { formatTime, tickLabel } from "./clock.js";
import { indexAt, legendFields } from "./legend.js";
import { robustRange } from "./scale.js";
import { StudyLayer } from "./studychart.js";

const UP = "#26a69a";
const DOWN = "#ef5350";
const UP_VOLUME = "rgba(38, 166, 154, 0.45)";
const DOWN_VOLUME = "rgba(239, 83, 80, 0.45)";
// Fewer candles than this left of the view: ask for older ones.
const LEFT_EDGE_BARS = 10;

export class CandleChart {
  /**
   * @param {HTMLElement} container
   * @param {HTMLElement} legend the element the legend is written into
   * @param {() => void} onLeftEdge called when the view reaches the first candles held
   */
  constructor(container, legend, onLeftEdge) {
    this.legend = legend;
    this.candles = [];
    this.precision = 2;
    this.zone = "utc";
    this.hovered = null;
    this.chart = createChart(container, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: "#0e1116" },
        textColor: "#8b949e",
        fontSize: 11,
        attributionLogo: true,
        panes: { separatorColor: "#262c36" },
      },
      grid: {
        vertLines: { color: "#1b2028" },
        horzLines: { color: "#1b2028" },
      },
      rightPriceScale: { borderColor: "#262c36", scaleMargins: { top: 0.08, bottom: 0.26 } },
      timeScale: { borderColor: "#262c36", timeVisible: true, secondsVisible: false },
      crosshair: { mode: CrosshairMode.Normal },
    });
    this.price = this.chart.addSeries(CandlestickSeries, {
      upColor: UP,
      downColor: DOWN,
      borderUpColor: UP,
      borderDownColor: DOWN,
      wickUpColor: UP,
      wickDownColor: DOWN,
      autoscaleInfoProvider: () => this.visibleRange(),
    });
    // Volume gets its own, unlabeled scale squeezed into the bottom fifth of the pane.
    this.volume = this.chart.addSeries(HistogramSeries, {
      priceScaleId: "volume",
      priceFormat: { type: "volume" },
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    this.markers = createSeriesMarkers(this.price, []);
    this.studies = new StudyLayer(this.chart);
    this.setZone("utc");
    this.chart.subscribeCrosshairMove((param) => {
      this.hovered = param.time === undefined ? null : param.time;
      this.drawLegend();
    });
    this.chart.timeScale().subscribeVisibleLogicalRangeChange((range) => {
      if (range && range.from < LEFT_EDGE_BARS && this.candles.length) onLeftEdge();
    });
  }

  /** Whether the view shows the first candles held (older ones would be wanted). */
  atLeftEdge() {
    const range = this.chart.timeScale().getVisibleLogicalRange();
    return Boolean(range && range.from < LEFT_EDGE_BARS && this.candles.length);
  }

  /** Price precision and tick of the symbol (its `priceFormat` from /api/v1/symbols). */
  setPriceFormat(format) {
    if (!format) return;
    this.precision = format.precision;
    this.price.applyOptions({
      priceFormat: { type: "price", precision: format.precision, minMove: format.minMove },
    });
    this.drawLegend();
  }

  /** Axis labels and crosshair times in UTC or the browser's zone. */
  setZone(zone) {
    this.zone = zone;
    this.chart.applyOptions({
      localization: { timeFormatter: (time) => formatTime(time, zone) },
      timeScale: { tickMarkFormatter: (time) => tickLabel(time, zone) },
    });
  }

  /** `normal` or `log` price scale. */
  setScaleMode(mode) {
    const logarithmic = mode === "log";
    this.chart.priceScale("right").applyOptions({
      mode: logarithmic ? PriceScaleMode.Logarithmic : PriceScaleMode.Normal,
    });
  }

  /** Replace everything drawn (a snapshot, a switch, older candles, an older change). */
  setCandles(candles, { fit = false } = {}) {
    this.candles = candles;
    this.price.setData(candles.map(bar));
    this.volume.setData(candles.map(volumeBar));
    if (fit) this.chart.timeScale().scrollToRealTime();
    this.drawLegend();
  }

  /** Older candles went in front: redraw without moving what the user looks at. */
  prependCandles(candles, added) {
    const timeScale = this.chart.timeScale();
    const range = timeScale.getVisibleLogicalRange();
    this.setCandles(candles);
    if (range) timeScale.setVisibleLogicalRange({ from: range.from + added, to: range.to + added });
  }

  /** The last candle changed or a newer one arrived: the cheap incremental path. */
  updateLast(candles) {
    this.candles = candles;
    const candle = candles[candles.length - 1];
    this.price.update(bar(candle));
    this.volume.update(volumeBar(candle));
    if (this.hovered === null || this.hovered === candle.time) this.drawLegend();
  }

  /** A marker on the first candle when nothing older exists. */
  markStart(atStart) {
    const first = this.candles[0];
    this.markers.setMarkers(
      atStart && first
        ? [{ time: first.time, position: "belowBar", shape: "arrowUp", color: "#7d8590", text: "first candle" }]
        : [],
    );
  }

  /** The legend of the hovered candle, or of the newest. */
  drawLegend() {
    const { candles } = this;
    let index = this.hovered === null ? candles.length - 1 : indexAt(candles, this.hovered);
    if (index === -1) index = candles.length - 1;
    if (index < 0) {
      this.legend.hidden = true;
      return;
    }
    const candle = candles[index];
    const fields = legendFields(candle, candles[index - 1], this.precision);
    this.legend.hidden = false;
    this.legend.dataset.time = String(candle.time);
    this.legend.classList.toggle("down", !fields.up);
    for (const [name, text] of Object.entries(fields)) {
      const cell = this.legend.querySelector(`[data-field="${name}"]`);
      if (cell) cell.textContent = text;
    }
    const time = this.legend.querySelector('[data-field="time"]');
    if (time) time.textContent = formatTime(candle.time, this.zone);
  }

  visibleRange() {
    const range = this.chart.timeScale().getVisibleLogicalRange();
    if (!range) return null;
    const from = Math.max(0, Math.floor(range.from));
    const to = Math.min(this.candles.length, Math.ceil(range.to) + 1);
    const shown = robustRange(this.candles.slice(from, to));
    return shown && { priceRange: shown, margins: { above: 8, below: 8 } };
  }
}

function bar(c) {
  return { time: c.time, open: c.open, high: c.high, low: c.low, close: c.close };
}

function volumeBar(c) {
  return { time: c.time, value: c.volume, color: c.close >= c.open ? UP_VOLUME : DOWN_VOLUME };
}
