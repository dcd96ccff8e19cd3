// The candlestick chart and its volume histogram (TradingView lightweight-charts v5).
// It draws whatever series the page holds; the series rules live in candles.js.

import {
  CandlestickSeries,
  ColorType,
  CrosshairMode,
  HistogramSeries,
  createChart,
} from "lightweight-charts";

const UP = "#26a69a";
const DOWN = "#ef5350";
const UP_VOLUME = "rgba(38, 166, 154, 0.45)";
const DOWN_VOLUME = "rgba(239, 83, 80, 0.45)";

export class CandleChart {
  constructor(container) {
    this.chart = createChart(container, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: "#0e1116" },
        textColor: "#8b949e",
        fontSize: 11,
        attributionLogo: true,
      },
      grid: {
        vertLines: { color: "#1b2028" },
        horzLines: { color: "#1b2028" },
      },
      rightPriceScale: { borderColor: "#262c36", scaleMargins: { top: 0.06, bottom: 0.26 } },
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
    });
    // Volume gets its own, unlabeled scale squeezed into the bottom fifth of the pane.
    this.volume = this.chart.addSeries(HistogramSeries, {
      priceScaleId: "volume",
      priceFormat: { type: "volume" },
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  }

  /** Price precision and tick of the symbol (its `priceFormat` from /api/v1/symbols). */
  setPriceFormat(format) {
    if (!format) return;
    this.price.applyOptions({
      priceFormat: { type: "price", precision: format.precision, minMove: format.minMove },
    });
  }

  /** Replace everything drawn (a snapshot, a switch, or an older candle changed). */
  setCandles(candles, { fit = false } = {}) {
    this.price.setData(candles.map(bar));
    this.volume.setData(candles.map(volumeBar));
    if (fit) this.chart.timeScale().scrollToRealTime();
  }

  /** The last candle changed or a newer one arrived: the cheap incremental path. */
  updateLast(candle) {
    this.price.update(bar(candle));
    this.volume.update(volumeBar(candle));
  }
}

function bar(c) {
  return { time: c.time, open: c.open, high: c.high, low: c.low, close: c.close };
}

function volumeBar(c) {
  return { time: c.time, value: c.volume, color: c.close >= c.open ? UP_VOLUME : DOWN_VOLUME };
}
