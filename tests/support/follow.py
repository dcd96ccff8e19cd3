"""Clients that behave like a chart: load history, then apply live messages by time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from support.wsio import connect

Row = dict[str, Any]


@dataclass
class ChartSeries:
    """Candles by open time (s), applied by upsert exactly as a chart library does."""

    rows: dict[int, Row] = field(default_factory=dict)
    messages: int = 0

    def apply(self, row: Row) -> None:
        self.rows[int(row["time"])] = row
        self.messages += 1

    def times(self) -> list[int]:
        return sorted(self.rows)

    def closed_rows(self) -> list[Row]:
        return [self.rows[t] for t in self.times() if _closed(self.rows[t])]


def _closed(row: Row) -> bool:
    return bool(row.get("closed", row.get("is_closed")))


async def load_rest(http: str, symbol: str, interval: str, limit: int) -> ChartSeries:
    series = ChartSeries()
    async with httpx.AsyncClient(base_url=http) as client:
        response = await client.get(f"/candles/{symbol}/{interval}", params={"limit": limit})
        response.raise_for_status()
        for row in response.json()["candles"]:
            series.apply(row)
    return series


@dataclass
class Follower:
    """Follows one socket in the background, applying candle messages to ``series``."""

    series: ChartSeries
    extract: Callable[[Row], Row | None]
    socket: ClientConnection | None = None
    task: asyncio.Task[None] | None = None
    close_code: int | None = None
    received: list[Row] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)

    async def start(
        self, url: str, hello: list[Row], *, compression: Literal["deflate"] | None = "deflate"
    ) -> None:
        self.socket = await connect(url, max_size=2**24, compression=compression)
        for message in hello:
            await self.socket.send(orjson.dumps(message).decode())
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.socket is not None
        try:
            async for raw in self.socket:
                message = orjson.loads(raw)
                self.arrivals.append(time.monotonic())
                self.received.append(message)
                row = self.extract(message)
                if row is not None:
                    self.series.apply(row)
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.socket.close_code

    async def stop(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def smarttrade_candle(symbol: str, interval: str) -> Callable[[Row], Row | None]:
    def extract(message: Row) -> Row | None:
        if (
            message.get("type") == "candle"
            and message.get("symbol") == symbol
            and message.get("interval") == interval
        ):
            candle: Row = message["candle"]
            return candle
        return None

    return extract


def native_candles(series: ChartSeries) -> Callable[[Row], Row | None]:
    """Native messages: snapshots fold in many rows, updates one."""

    def extract(message: Row) -> Row | None:
        if message.get("type") == "snapshot":
            if message.get("reset"):
                series.rows.clear()
            for row in message["candles"]:
                series.apply(row)
            return None
        if message.get("type") == "candle":
            candle: Row = message["candle"]
            return candle
        return None

    return extract


def native_by_symbol(books: dict[str, ChartSeries]) -> Callable[[Row], Row | None]:
    """Native messages for several symbols (one interval), each into its own series."""

    def extract(message: Row) -> Row | None:
        symbol = message.get("symbol")
        if not isinstance(symbol, str):
            return None
        series = books.setdefault(symbol, ChartSeries())
        row = native_candles(series)(message)
        if row is not None:
            series.apply(row)
        return None

    return extract
