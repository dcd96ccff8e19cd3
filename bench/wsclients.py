"""Load generator: many WebSocket clients in one process (uvloop + picows), bounded.

Each client opens ``/ws``, subscribes to its topics and records, for every candle update,
``time.time()`` at receipt minus the update's ``event_time`` (the exchange's push time on
the same clock). A frame may hold one update or a JSON array of them (batching).

Protocol with the parent (one line each way, so every process starts measuring together):
this process prints ``connected <n>`` once its clients hold their subscriptions, waits for
``go <start_s> <end_s>`` (wall clock) on stdin, counts what arrives in that window and
prints one JSON line with counts and a latency histogram.

    python bench/wsclients.py --url ws://127.0.0.1:8000/ws --clients 250 --first 0 \
        --subscriptions 5 --topics BTCUSDT:1m,ETHUSDT:1m,...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from array import array

import orjson
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

# Latency histogram: 0.1 ms bins up to 10 s, one overflow bin.
BIN_MS = 0.1
BINS = 100_000
CONNECT_AT_ONCE = 50


class Tally:
    """What every client of this process received inside the measuring window."""

    def __init__(self) -> None:
        self.start = float("inf")
        self.end = float("-inf")
        self.frames = 0
        self.updates = 0
        self.undated = 0  # updates without an event time (REST fills): not in latency
        self.histogram = array("I", bytes(4 * (BINS + 1)))
        self.snapshots = 0
        # Per broadcast (topic, event time): receipts, and receipts within 250 ms.
        self.broadcasts: dict[str, list[int]] = {}

    def record(self, now: float, update: dict[str, object], event_ms: int) -> None:
        latency_ms = now * 1000 - event_ms
        index = min(BINS, max(0, int(latency_ms / BIN_MS)))
        self.histogram[index] += 1
        key = f"{update['symbol']} {update['interval']} {event_ms}"
        counts = self.broadcasts.get(key)
        if counts is None:
            counts = self.broadcasts[key] = [0, 0]
        counts[0] += 1
        counts[1] += latency_ms <= 250.0


class Client(WSListener):
    def __init__(self, tally: Tally, subscribe: list[bytes], subscribed: asyncio.Event) -> None:
        self.tally = tally
        self.subscribe = subscribe
        self.subscribed = subscribed
        self.pending = len(subscribe)

    def on_ws_connected(self, transport: WSTransport) -> None:
        for message in self.subscribe:
            transport.send(WSMsgType.TEXT, message)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.PING:
            transport.send_pong(frame.get_payload_as_bytes())
            return
        if frame.msg_type != WSMsgType.TEXT:
            return
        now = time.time()
        tally = self.tally
        payload = frame.get_payload_as_bytes()
        if self.pending:
            # A snapshot alone, or inside a batch: snapshots are never counted as updates.
            snapshots = payload.count(b'{"type":"snapshot"')
            self.pending -= snapshots
            tally.snapshots += snapshots
            if self.pending <= 0:
                self.pending = 0
                self.subscribed.set()
            return
        if not tally.start <= now < tally.end:
            return
        tally.frames += 1
        decoded = orjson.loads(payload)
        for update in decoded if isinstance(decoded, list) else (decoded,):
            if update.get("type") != "candle":
                continue
            tally.updates += 1
            event_ms = update.get("event_time")
            if event_ms is None:
                tally.undated += 1
            else:
                tally.record(now, update, event_ms)


async def run(args: argparse.Namespace) -> None:
    topics = [t.split(":") for t in args.topics.split(",")]
    tally = Tally()

    async def open_client(number: int) -> tuple[WSTransport, asyncio.Event]:
        base = number * args.subscriptions
        picks = [topics[(base + j) % len(topics)] for j in range(args.subscriptions)]
        messages = [
            orjson.dumps(
                {"op": "subscribe", "channel": "candles", "symbol": s, "interval": i, "limit": 1}
            )
            for s, i in picks
        ]
        done = asyncio.Event()
        transport, _ = await ws_connect(
            lambda: Client(tally, messages, done), args.url, websocket_handshake_timeout=60
        )
        return transport, done

    # A few handshakes at a time: one by one, 10k clients take minutes to connect.
    numbers = range(args.first, args.first + args.clients)
    clients: list[tuple[WSTransport, asyncio.Event]] = []
    for chunk in range(0, len(numbers), CONNECT_AT_ONCE):
        batch = numbers[chunk : chunk + CONNECT_AT_ONCE]
        clients += await asyncio.gather(*(open_client(n) for n in batch))
    async with asyncio.timeout(300):
        for _, done in clients:
            await done.wait()
    print(f"connected {len(clients)}", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    _, start, end = line.split()
    tally.start, tally.end = float(start), float(end)
    await asyncio.sleep(max(0.0, tally.end - time.time()) + 0.2)
    disconnected = sum(1 for transport, _ in clients if transport.is_disconnected)
    for transport, _ in clients:
        transport.disconnect()
    result = {
        "clients": len(clients),
        "disconnected": disconnected,
        "frames": tally.frames,
        "updates": tally.updates,
        "undated": tally.undated,
        "histogram": {str(i): n for i, n in enumerate(tally.histogram) if n},
        "broadcasts": tally.broadcasts,
    }
    print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--first", type=int, default=0, help="first client's number")
    parser.add_argument("--subscriptions", type=int, default=5)
    parser.add_argument("--topics", required=True, help="SYMBOL:interval,...")
    uvloop.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
