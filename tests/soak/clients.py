"""Soak clients: many WebSocket clients in one process, each keeping what a chart keeps.

Run as a script by the soak (``soak.py``), one process per share of the clients::

    python clients.py PLAN.json RESULTS.json STOP_FILE

Each client follows its candle topics, and maybe an order book and a trade tape, over
the native ``/ws``, as a careful user would: it applies candles by upsert on ``time``,
drops its copy on ``reset``, inserts trades by id, and after any disconnect (a 4008, a
killed node, a refused handshake) reconnects with backoff and resumes with ``since``.
When ``STOP_FILE`` appears, every client stops and the process writes what each held.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

CHECKPOINT_S = 5.0
INTERVAL_S = {"1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600}
Row = list[Any]  # [time, open, high, low, close, volume, closed]


@dataclass
class Plan:
    id: int
    url: str
    topics: list[tuple[str, str]]
    book: str | None
    trades: str | None


@dataclass
class Segment:
    """Trade ids held since the last reset, with their span kept as they arrive: the
    progress report asks every half second whether a segment has a hole, and scanning a
    long soak's hundreds of thousands of ids per tape each time froze the client process
    (its sockets unread, its pongs unsent) exactly while the soak waited on it."""

    ids: set[int] = field(default_factory=set)
    low: int | None = None
    high: int | None = None

    def extend(self, ids: list[int]) -> None:
        if not ids:
            return
        self.ids.update(ids)
        low, high = min(ids), max(ids)
        self.low = low if self.low is None else min(self.low, low)
        self.high = high if self.high is None else max(self.high, high)

    @property
    def has_hole(self) -> bool:
        return (
            self.low is not None
            and self.high is not None
            and (self.high - self.low + 1 != len(self.ids))
        )


@dataclass
class Client:
    plan: Plan
    series: dict[str, dict[int, Row]] = field(default_factory=dict)
    duplicates: int = 0
    resets: int = 0
    trade_segments: dict[str, list[Segment]] = field(default_factory=dict)
    book_views: list[dict[str, Any]] = field(default_factory=list)
    messages: int = 0
    reconnects: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    closes: Counter[str] = field(default_factory=Counter)
    _latest_book: dict[str, Any] | None = None
    _finest: str | None = None
    _pending: set[str] = field(default_factory=set)

    # -- what to ask for -----------------------------------------------------------
    def subscriptions(self) -> dict[str, dict[str, Any]]:
        plan, wanted = self.plan, {}
        for symbol, interval in plan.topics:
            message: dict[str, Any] = {"symbol": symbol, "interval": interval}
            held = self.series.get(f"{symbol}:{interval}")
            message |= {"since": max(held)} if held else {"limit": 300}
            wanted[f"candles:{symbol}:{interval}"] = {"channel": "candles", **message}
        if plan.trades:
            segments = self.trade_segments.get(plan.trades)
            high = segments[-1].high if segments else None
            last = {"since": high} if high is not None else {"limit": 50}
            wanted[f"trades:{plan.trades}"] = {"channel": "trades", "symbol": plan.trades, **last}
        if plan.book:
            rounding = {"rounding": self._finest} if self._finest else {}
            body = {"channel": "orderbook", "symbol": plan.book, "limit": 20, **rounding}
            wanted[f"orderbook:{plan.book}"] = body
        return wanted

    async def subscribe(self, ws: ClientConnection, keys: set[str] | None = None) -> None:
        wanted = self.subscriptions()
        for key, body in wanted.items():
            if keys is None or key in keys:
                self._pending.add(key)
                await ws.send(orjson.dumps({"op": "subscribe", **body}).decode())

    # -- what arrives --------------------------------------------------------------
    def take(self, message: dict[str, Any]) -> set[str]:
        """Apply one message; return the subscriptions to ask for again."""
        self.messages += 1
        kind, channel = message.get("type"), message.get("channel")
        if kind == "error":
            self.errors[str(message.get("code"))] += 1
            return set(self._pending)  # not ready yet (a node restarting): ask again
        if channel == "candles":
            self._candles(message)
        elif channel == "trades":
            self._trades(message)
        elif channel == "orderbook":
            return self._book(message)
        return set()

    def _candles(self, message: dict[str, Any]) -> None:
        key = f"{message['symbol']}:{message['interval']}"
        if message["type"] == "snapshot":
            self._pending.discard(f"candles:{key}")
            if message["reset"]:
                self.resets += 1
                self.series[key] = {}
            rows = message["candles"]
            times = [row["time"] for row in rows]
            self.duplicates += len(times) - len(set(times))
        else:
            rows = [message["candle"]]
        held = self.series.setdefault(key, {})
        for row in rows:
            held[row["time"]] = [
                row["time"],
                row["open"],
                row["high"],
                row["low"],
                row["close"],
                row["volume"],
                row["closed"],
            ]

    def _trades(self, message: dict[str, Any]) -> None:
        symbol = message["symbol"]
        segments = self.trade_segments.setdefault(symbol, [])
        if message["type"] == "snapshot":
            self._pending.discard(f"trades:{symbol}")
            if message["reset"] or not segments:
                segments.append(Segment())  # a reset: what was held before has a hole
        segments[-1].extend([trade["id"] for trade in message["trades"]])

    def _book(self, message: dict[str, Any]) -> set[str]:
        symbol = message["symbol"]
        if message["type"] == "snapshot":
            self._pending.discard(f"orderbook:{symbol}")
            finest = min(message["rounding_options"])
            if self._finest is None or float(self._finest) != finest:
                self._finest = format(finest, "f").rstrip("0").rstrip(".") or "0"
                if float(message["rounding"]) != finest:
                    return {f"orderbook:{symbol}"}  # one bucket per tick: raw levels
        if self._finest is not None and float(message["rounding"]) == float(self._finest):
            self._latest_book = {
                "symbol": symbol,
                "update_id": message["update_id"],
                "bids": [[level["price"], level["amount"]] for level in message["bids"]],
                "asks": [[level["price"], level["amount"]] for level in message["asks"]],
            }
        return set()

    def series_behind(self, clock_ms: int) -> int:
        """Series whose newest candle is older than the one before the current one."""
        behind = 0
        for symbol, code in self.plan.topics:
            held = self.series.get(f"{symbol}:{code}")
            step = INTERVAL_S[code]
            current = clock_ms // 1000 // step * step
            behind += not held or max(held) < current - step
        return behind

    def open_holes(self) -> int:
        """Tapes whose held segment misses ids (a gap the hub has not filled yet)."""
        return sum(
            bool(segments) and segments[-1].has_hole for segments in self.trade_segments.values()
        )

    def checkpoint(self) -> None:
        view = self._latest_book
        if view is not None and (not self.book_views or self.book_views[-1] is not view):
            self.book_views.append(view)

    # -- the connection ------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        rng = random.Random(self.plan.id)
        delay = 0.2
        while not stop.is_set():
            try:
                async with connect(
                    self.plan.url, open_timeout=30, close_timeout=2, max_size=None
                ) as ws:
                    delay = 0.2
                    await self.subscribe(ws)
                    await self._follow(ws, stop)
                    return
            except Exception as error:
                code = getattr(getattr(error, "rcvd", None), "code", None)
                self.closes[str(code or type(error).__name__)] += 1
                self.reconnects += 1
            await asyncio.sleep(delay * (0.5 + rng.random()))
            delay = min(delay * 2, 3.0)

    async def _follow(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        stopping = asyncio.create_task(stop.wait())
        try:
            while True:
                receiving = asyncio.create_task(ws.recv(decode=False))
                done, _ = await asyncio.wait(
                    {receiving, stopping}, return_when=asyncio.FIRST_COMPLETED
                )
                if receiving not in done:
                    receiving.cancel()
                    return
                decoded = orjson.loads(receiving.result())
                again = set()
                for message in decoded if isinstance(decoded, list) else [decoded]:
                    again |= self.take(message)  # a batched frame holds several
                if again:
                    await asyncio.sleep(0.5)
                    await self.subscribe(ws, again)
        finally:
            stopping.cancel()

    def result(self) -> dict[str, Any]:
        self.checkpoint()
        return {
            "id": self.plan.id,
            "url": self.plan.url,
            "series": {key: list(rows.values()) for key, rows in self.series.items()},
            "duplicates": self.duplicates,
            "resets": self.resets,
            "trades": {
                symbol: [sorted(segment.ids) for segment in segments]
                for symbol, segments in self.trade_segments.items()
            },
            "books": self.book_views,
            "messages": self.messages,
            "reconnects": self.reconnects,
            "errors": dict(self.errors),
            "closes": dict(self.closes),
        }


def read_plans(path: Path) -> list[Plan]:
    return [Plan(**p) for p in orjson.loads(path.read_bytes())]


def write_results(path: Path, clients: list[Client]) -> None:
    path.write_bytes(orjson.dumps([client.result() for client in clients]))


def told_to_stop(path: Path) -> bool:
    return path.exists()


def report_progress(clock_file: Path, progress_file: Path, clients: list[Client]) -> None:
    """Against the exchange clock the soak writes to ``clock_file``: how many series are
    behind and how many tapes hold an open hole (written atomically)."""
    try:
        clock_ms = int(clock_file.read_text())
    except (FileNotFoundError, ValueError):
        return
    state = {
        "clock_ms": clock_ms,
        "behind": sum(client.series_behind(clock_ms) for client in clients),
        "open_holes": sum(client.open_holes() for client in clients),
    }
    partial = progress_file.with_suffix(".tmp")
    partial.write_bytes(orjson.dumps(state))
    partial.replace(progress_file)


async def main(plan_file: Path, results_file: Path, stop_file: Path) -> None:
    clients = [Client(plan) for plan in read_plans(plan_file)]
    stop = asyncio.Event()
    runs = []
    for client in clients:  # open gradually: a real audience does not arrive in one tick
        runs.append(asyncio.create_task(client.run(stop)))
        await asyncio.sleep(0.002)
    clock_file = stop_file.parent / "clock"
    progress_file = results_file.with_name(results_file.name.replace("results", "progress"))
    next_checkpoint = next_report = time.monotonic() + CHECKPOINT_S
    while not told_to_stop(stop_file):
        await asyncio.sleep(0.2)
        now = time.monotonic()
        if now >= next_checkpoint:
            for client in clients:
                client.checkpoint()
            next_checkpoint += CHECKPOINT_S
        if now >= next_report:
            report_progress(clock_file, progress_file, clients)
            next_report = now + 0.5
    stop.set()
    await asyncio.gather(*runs, return_exceptions=True)
    write_results(results_file, clients)


if __name__ == "__main__":
    # Writes to a node the soak killed make asyncio warn once each: noise, not news.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
