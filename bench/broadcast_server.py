"""The fan-out ceiling: a bare ``websockets.broadcast()`` server on the same clients.

It reads the same kline streams from the same simulator as the hub, turns each update
into the same native ``candle`` message (encoded once) and broadcasts it to the clients
subscribed to that topic. No store, no sync, no history, no per-client queue: what is
left is the cost of the WebSocket writes themselves, which is what the hub is measured
against. A subscribe gets an empty snapshot so the clients' protocol is unchanged.

    .venv/bin/python bench/broadcast_server.py PORT SIM_WS_BASE SYMBOL:interval,...
"""

from __future__ import annotations

import sys
from collections import defaultdict

import orjson
import uvloop
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, broadcast, serve

Subscribers = defaultdict[tuple[str, str], set[ServerConnection]]


async def pump(sim_ws: str, topics: list[tuple[str, str]], subscribers: Subscribers) -> None:
    streams = "/".join(f"{s.lower()}@kline_{i}" for s, i in topics)
    async with connect(f"{sim_ws}/stream?streams={streams}", max_size=None) as upstream:
        last: dict[tuple[str, str], object] = {}
        async for raw in upstream:
            event = orjson.loads(raw)["data"]
            k = event["k"]
            topic = (event["s"], k["i"])
            listeners = subscribers.get(topic)
            # Like the hub, send a kline only when it changed: both then deliver the
            # same updates, and the ratio compares the cost of delivering them.
            unchanged = last.get(topic) == k
            last[topic] = k
            if not listeners or unchanged:
                continue
            text = orjson.dumps(
                {
                    "type": "candle",
                    "channel": "candles",
                    "symbol": topic[0],
                    "interval": topic[1],
                    "candle": {
                        "time": k["t"] // 1000,
                        "open": float(k["o"]),
                        "high": float(k["h"]),
                        "low": float(k["l"]),
                        "close": float(k["c"]),
                        "volume": float(k["v"]),
                        "closed": k["x"],
                    },
                    "event_time": event["E"],
                }
            ).decode()
            broadcast(listeners, text)


async def main() -> None:
    port, sim_ws = int(sys.argv[1]), sys.argv[2]
    topics = [(s, i) for s, i in (t.split(":") for t in sys.argv[3].split(","))]
    subscribers: Subscribers = defaultdict(set)

    async def handler(ws: ServerConnection) -> None:
        held: list[tuple[str, str]] = []
        try:
            async for raw in ws:
                op = orjson.loads(raw)
                topic = (op["symbol"], op["interval"])
                subscribers[topic].add(ws)
                held.append(topic)
                symbol, interval = topic
                snapshot = {"type": "snapshot", "symbol": symbol, "interval": interval}
                await ws.send(orjson.dumps(snapshot | {"candles": []}).decode())
        finally:
            for topic in held:
                subscribers[topic].discard(ws)

    async with serve(handler, "127.0.0.1", port, max_size=2**20):
        await pump(sim_ws, topics, subscribers)


if __name__ == "__main__":
    uvloop.run(main())
