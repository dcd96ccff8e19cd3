// The depth chart beside the order book: cumulative bid and ask size against price, from
// the aggregated book view the ladder shows (so the two always agree). The curve is pure;
// DepthChart paints it on a canvas sized to its box.

/**
 * Step points of both sides, `{bids: [[price, cumulative]], asks: [...], low, high, top}`:
 * bids from the best price down, asks from the best price up; null for an empty book.
 */
export function depthCurve(bids, asks) {
  if (!bids.length && !asks.length) return null;
  const side = (levels) => levels.map((level) => [level.price, level.cumulative]);
  const points = [...side(bids), ...side(asks)];
  const prices = points.map(([price]) => price);
  return {
    bids: side(bids),
    asks: side(asks),
    low: Math.min(...prices),
    high: Math.max(...prices),
    top: Math.max(...points.map(([, size]) => size)) || 1,
  };
}

const BID = { line: "#26a69a", fill: "rgba(38, 166, 154, 0.18)" };
const ASK = { line: "#ef5350", fill: "rgba(239, 83, 80, 0.18)" };

export class DepthChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.curve = null;
  }

  render(book) {
    this.curve = depthCurve(book.bids, book.asks);
    this.paint();
  }

  paint() {
    const { canvas } = this;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return; // a hidden tab: painted when shown
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    const curve = this.curve;
    if (!curve) return;
    const span = curve.high - curve.low || 1;
    const x = (price) => ((price - curve.low) / span) * width;
    const y = (size) => height - (size / curve.top) * (height - 4);
    paintSide(g, curve.bids.map(([p, s]) => [x(p), y(s)]), height, BID);
    paintSide(g, curve.asks.map(([p, s]) => [x(p), y(s)]), height, ASK);
  }
}

function paintSide(g, points, height, colors) {
  if (!points.length) return;
  g.beginPath();
  g.moveTo(points[0][0], height);
  let level = height;
  for (const [px, py] of points) {
    g.lineTo(px, level); // a step: size holds until the next price level
    g.lineTo(px, py);
    level = py;
  }
  g.lineTo(points[points.length - 1][0], height);
  g.closePath();
  g.fillStyle = colors.fill;
  g.fill();
  g.strokeStyle = colors.line;
  g.lineWidth = 1.5;
  g.stroke();
}
