// Live prices for the sidebar: a socket of its own following each listed symbol's 1m
// candles (the newest one only), so every row's price moves, not only the chart's.
// Its own socket because a subscription is keyed by channel, market, symbol and
// interval: the chart's 1m subscription of the same symbol would otherwise be replaced.

import { HubSocket } from "./socket.js";

export class Ticker {
  /** @param {(symbol: string, close: number) => void} onPrice */
  constructor(url, onPrice) {
    this.symbols = [];
    this.market = "spot";
    this.onPrice = onPrice;
    this.socket = new HubSocket(url, {
      onOpen: () => this.subscribe(this.symbols),
      onMessage: (message) => this.onMessage(message),
      onDown: () => {},
    });
  }

  start() {
    this.socket.start();
  }

  /** Follow `symbols` of `market` instead of what was followed. */
  follow(symbols, market) {
    for (const symbol of this.symbols) {
      this.socket.send({ op: "unsubscribe", channel: "candles", symbol, interval: "1m", market: this.market });
    }
    this.symbols = [...symbols];
    this.market = market;
    this.subscribe(this.symbols);
  }

  subscribe(symbols) {
    for (const symbol of symbols) {
      this.socket.send({ op: "subscribe", channel: "candles", symbol, interval: "1m", limit: 1, market: this.market });
    }
  }

  onMessage(message) {
    if (message.channel !== "candles" || message.market !== this.market) return;
    const candle = message.type === "snapshot" ? message.candles?.at(-1) : message.candle;
    if (candle) {
      this.socket.markHealthy();
      this.onPrice(message.symbol, candle.close);
    }
  }
}
