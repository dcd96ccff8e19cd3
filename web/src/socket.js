// The one multiplexed WebSocket to the hub's native /ws: connect, keep alive, and come
// back after any close with growing delays. What to subscribe after a (re)open is the
// caller's business (onOpen); this module only owns the connection.

export const BACKOFF_START_MS = 250;
export const BACKOFF_CAP_MS = 5000;
export const PING_EVERY_MS = 20000;
// No message at all for this long (not even a pong) means the path is dead even if
// the socket still looks open: drop it and reconnect.
export const SILENCE_LIMIT_MS = 45000;

/** Delay before reconnect attempt `attempt` (0-based): 250 ms doubling, capped at 5 s. */
export function backoffDelay(attempt) {
  return Math.min(BACKOFF_CAP_MS, BACKOFF_START_MS * 2 ** Math.min(attempt, 16));
}

// Frames batch what the hub queued in this many ms: one frame (and one parse) where a
// busy tape took hundreds a second. The panels repaint no faster than this anyway.
export const BATCH_MS = 50;

/** ws:// or wss:// to /ws on the page's own origin, with batched frames. */
export function socketUrl(location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws?batch_ms=${BATCH_MS}`;
}

export class HubSocket {
  /**
   * @param {string} url
   * @param {{onOpen: () => void, onMessage: (msg: object) => void,
   *          onDown: (event: CloseEvent) => void}} handlers
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.ws = null;
    this.attempt = 0;
    this.lastMessageAt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
  }

  start() {
    this.open();
    this.pingTimer = setInterval(() => this.keepAlive(), PING_EVERY_MS);
  }

  /** Send one op; false when the socket is not open (the next onOpen re-sends state). */
  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** The connection is healthy again (subscribed): the next outage starts at 250 ms. */
  markHealthy() {
    this.attempt = 0;
  }

  open() {
    this.retryTimer = null;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    // Handlers check `this.ws === ws`: events of a replaced socket must not touch state.
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.lastMessageAt = Date.now();
      this.handlers.onOpen();
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      this.lastMessageAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return; // the hub only sends JSON; a broken frame is not worth the connection
      }
      // A batched frame is an array of messages, in the order the hub queued them.
      for (const message of Array.isArray(frame) ? frame : [frame]) {
        this.handlers.onMessage(message);
      }
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.handlers.onDown(event);
      this.scheduleReconnect();
    };
    // An error is always followed by close, which does the work.
    ws.onerror = () => {};
  }

  scheduleReconnect() {
    if (this.retryTimer !== null) return;
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  keepAlive() {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastMessageAt > SILENCE_LIMIT_MS) {
      ws.close(4000, "no data");
      return;
    }
    this.send({ op: "ping" });
  }
}
