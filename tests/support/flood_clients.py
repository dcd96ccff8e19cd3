"""Open N WebSockets at once, hold the accepted ones, report every handshake's outcome.

Run as a script (its own process, so the load it makes is not the hub's)::

    python flood_clients.py ws://127.0.0.1:8000/ws 1000 5.0

Each accepted client subscribes to one candle topic and holds for ``hold_s``. Prints one
JSON object: outcomes by kind (``accepted``, an HTTP status, an error name) and the
slowest time from starting a handshake to its outcome.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

SUBSCRIBE = b'{"op":"subscribe","channel":"candles","symbol":"BTCUSDT","interval":"1m","limit":50}'


async def one(url: str, hold_s: float, outcomes: Counter[str], slowest: list[float]) -> None:
    started = time.monotonic()
    try:
        async with connect(url, open_timeout=60, close_timeout=5) as ws:
            slowest.append(time.monotonic() - started)
            outcomes["accepted"] += 1
            await ws.send(SUBSCRIBE.decode())
            await asyncio.sleep(hold_s)
    except InvalidStatus as refused:
        slowest.append(time.monotonic() - started)
        outcomes[str(refused.response.status_code)] += 1
    except Exception as error:  # counted, never hidden: the test fails on it
        slowest.append(time.monotonic() - started)
        outcomes[type(error).__name__] += 1


async def main(url: str, count: int, hold_s: float) -> None:
    outcomes: Counter[str] = Counter()
    slowest: list[float] = []
    await asyncio.gather(*(one(url, hold_s, outcomes, slowest) for _ in range(count)))
    report = {"outcomes": dict(outcomes), "slowest_s": max(slowest, default=0.0)}
    sys.stdout.write(orjson.dumps(report).decode() + "\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
