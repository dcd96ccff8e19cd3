"""The :class:`Client`: one hub's REST and ``/ws`` behind typed calls."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from marketcast.client.book import BookChannel
from marketcast.client.channels import CandleChannel, TradeChannel
from marketcast.client.connection import Endpoint
from marketcast.client.paging import HistoryPager, Moment, to_seconds
from marketcast.client.rest import Rest
from marketcast.client.series import Candle
from marketcast.client.streams import BookStream, CandleStream, Stream, TradeStream
from marketcast.resources import AsyncResource

S = TypeVar("S", bound=Stream[Any])

_SOCKET_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


def socket_url(base: str) -> str:
    """The hub's ``/ws`` from its HTTP base: ``http://host:8000`` -> ``ws://host:8000/ws``."""
    parts = urlsplit(base)
    scheme = _SOCKET_SCHEMES.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"not an http(s) base URL: {base!r}")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", "", ""))


class Client(AsyncResource):
    """A marketcast hub, from Python.

    Args:
        url: the hub's HTTP base, e.g. ``http://127.0.0.1:8000`` (a path prefix of a proxy
            is kept: ``https://example.com/market`` uses ``wss://example.com/market/ws``).
        token: the hub's ``MARKETCAST_AUTH_TOKEN``, if it has one. It is sent as an
            ``Authorization: Bearer`` header, on REST and on the socket handshake alike, so
            it never appears in a URL (or in a proxy's access log).
        timeout: seconds for one REST request, and for one socket handshake.
        attempts: REST attempts per request when the hub says "retry later".
        page_size: candles per history request (the hub's page is at most its buffer;
            a smaller hub's bound is learnt from its refusal).
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        attempts: int = 5,
        page_size: int = 1000,
    ) -> None:
        self.url = url.rstrip("/")
        self.ws_url = socket_url(self.url)
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        self._endpoint = Endpoint(self.ws_url, headers, open_timeout=timeout)
        self._http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout)
        self._rest = Rest(self._http, attempts=attempts)
        self.page_size = page_size
        self._streams: set[Stream[Any]] = set()

    def candles(
        self,
        symbol: str,
        interval: str,
        market: str | None = None,
        history: int | None = 500,
        *,
        keep: int | None = None,
    ) -> CandleStream:
        """Follow a topic: the ``history`` newest candles (``None``: all the hub holds),
        then every change, across reconnects; ``keep`` bounds the held series."""
        channel = CandleChannel(symbol, interval, market, history, keep)
        return self._opened(CandleStream(self._endpoint, channel, on_close=self._closed))

    def trades(
        self,
        symbol: str,
        market: str | None = None,
        history: int | None = 50,
        *,
        keep: int = 10_000,
    ) -> TradeStream:
        """Follow a symbol's trades: the ``history`` newest, then every new one in id order;
        ``keep`` bounds the held tape."""
        channel = TradeChannel(symbol, market, history, keep)
        return self._opened(TradeStream(self._endpoint, channel, on_close=self._closed))

    def book(self, symbol: str, market: str | None = None) -> BookStream:
        """Keep a symbol's exact order book (the aggregated view on a hub without one)."""
        channel = BookChannel(symbol, market)
        return self._opened(BookStream(self._endpoint, channel, on_close=self._closed))

    async def history(
        self,
        symbol: str,
        interval: str,
        *,
        start: Moment | None = None,
        end: Moment | None = None,
        limit: int | None = None,
        market: str | None = None,
    ) -> list[Candle]:
        """Candles opening in ``[start, end)``, oldest first, without a gap or a repeat.

        ``start`` and ``end`` are epochs in seconds or milliseconds (the hub's rule) or
        datetimes (naive ones are UTC); open ends mean "from the oldest the hub has" and
        "up to the newest, forming one included". ``limit`` keeps the newest that many;
        with neither ``start`` nor ``limit``, the newest 500.
        """
        pager = HistoryPager(
            start=None if start is None else to_seconds(start),
            end=None if end is None else to_seconds(end),
            limit=limit,
            page_size=self.page_size,
        )
        candles = await self._rest.history(symbol, interval, pager, market)
        self.page_size = pager.page_size  # what this hub allows, learnt once
        return candles

    def _opened(self, stream: S) -> S:
        self._streams.add(stream)
        return stream

    def _closed(self, stream: Stream[Any]) -> None:
        self._streams.discard(stream)

    async def aclose(self) -> None:
        """Close every stream still open, then the HTTP connections."""
        for stream in list(self._streams):
            await stream.aclose()
        await self._http.aclose()
