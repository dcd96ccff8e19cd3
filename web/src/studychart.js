// Draws the chosen indicator studies on the candle chart: overlays on the price pane,
// each lower study (RSI, MACD) in a pane of its own under it. The points come from
// studies.js; removing a pane's last series removes the pane.

import { HistogramSeries, LineSeries, LineStyle } from "lightweight-charts";

import { STUDIES } from "./studies.js";

const LOWER_PANE_STRETCH = 0.35;

export class StudyLayer {
  constructor(chart) {
    this.chart = chart;
    this.shown = new Map(); // name -> {field: series}
  }

  /** Show exactly `names` (in their order); returns nothing, data comes with setAll. */
  show(names) {
    for (const name of [...this.shown.keys()]) {
      if (!names.includes(name)) this.remove(name);
    }
    for (const name of names) {
      if (!this.shown.has(name) && STUDIES[name]) this.add(name);
    }
  }

  add(name) {
    const study = STUDIES[name];
    // A new lower pane goes under the existing ones.
    const pane = study.pane === "price" ? 0 : this.chart.panes().length;
    const series = {};
    for (const line of study.lines) {
      const options = {
        color: line.color,
        lineWidth: 1,
        priceLineVisible: false,
        lastValueVisible: study.pane !== "price",
        crosshairMarkerVisible: false,
        title: line.histogram || study.lines.length > 1 ? "" : study.label,
      };
      series[line.field] = this.chart.addSeries(line.histogram ? HistogramSeries : LineSeries, options, pane);
    }
    for (const level of study.levels ?? []) {
      const first = Object.values(series)[0];
      first.createPriceLine({ price: level, color: "#3b434f", lineStyle: LineStyle.Dashed, axisLabelVisible: false });
    }
    if (pane > 0) this.chart.panes()[pane]?.setStretchFactor(LOWER_PANE_STRETCH);
    this.shown.set(name, series);
  }

  remove(name) {
    for (const series of Object.values(this.shown.get(name))) this.chart.removeSeries(series);
    this.shown.delete(name);
  }

  /** Replace every study's points (`{name: {field: points}}`). */
  setAll(held) {
    for (const [name, series] of this.shown) {
      for (const [field, line] of Object.entries(series)) line.setData(held[name]?.[field] ?? []);
    }
  }

  /** The newest points changed (`{name: {field: point}}`). */
  update(changed) {
    for (const [name, fields] of Object.entries(changed)) {
      const series = this.shown.get(name);
      if (!series) continue;
      for (const [field, point] of Object.entries(fields)) {
        try {
          series[field]?.update(point);
        } catch {
          // Older than the line's last point: the snapshot that follows a change of view
          // brings it; drawing it now would only throw.
        }
      }
    }
  }

  get panes() {
    return this.chart.panes().length;
  }
}
