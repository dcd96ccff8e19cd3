"""REST reads from the hub: the retry rules, and history read page by page."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from marketcast.client.backoff import Backoff
from marketcast.client.errors import HubError, HubUnavailable, limit_maximum
from marketcast.client.paging import HistoryPager
from marketcast.client.series import Candle, parse_candle

RETRY_STATUSES = frozenset({502, 503, 504})
"""Answers that say "not now": the hub loads, its store or the exchange is away, a
fetch of older history waits for request weight (with ``Retry-After``). A ``429`` is
retried only when it says when (``Retry-After``); without, it is a cap, not a moment."""

END_OF_HISTORY = "before_history"
"""The hub's refusal of a range older than the exchange's first candle of the symbol."""


class Rest:
    """``GET`` with the hub's retry rules: bounded attempts, ``Retry-After`` honoured."""

    def __init__(self, http: httpx.AsyncClient, *, attempts: int = 5) -> None:
        self.http = http
        self.attempts = attempts

    async def get(self, path: str, params: dict[str, Any]) -> Any:
        """The JSON body of a 200; raise :class:`HubError` for a refusal, or
        :class:`HubUnavailable` once every attempt met "retry later" or no answer."""
        backoff = Backoff(first=0.5, cap=8.0)
        last = "no attempt made"
        for attempt in range(1, self.attempts + 1):
            wait: float | None = None
            try:
                response = await self.http.get(path, params=params)
            except httpx.TransportError as failed:
                last = f"{type(failed).__name__}: {failed}"
            else:
                if response.status_code == 200:
                    return response.json()
                body = _error_body(response)
                wait = _retry_after(response)
                status = response.status_code
                if status not in RETRY_STATUSES and (status != 429 or wait is None):
                    raise HubError.from_body(body, status)
                last = f"HTTP {status}: {body.get('detail', '')}"
            if attempt < self.attempts:
                await asyncio.sleep(backoff.next_delay() if wait is None else wait)
        raise HubUnavailable(f"GET {path} failed {self.attempts} times; last: {last}")

    async def history(
        self, symbol: str, interval: str, pager: HistoryPager, market: str | None
    ) -> list[Candle]:
        """Read the pager's range backwards, a page per request."""
        path = f"/candles/{symbol}/{interval}"
        while not pager.done:
            params: dict[str, Any] = pager.next_request()
            if market is not None:
                params["market"] = market
            try:
                body = await self.get(path, params)
            except HubError as refused:
                if refused.code == END_OF_HISTORY:
                    pager.take([])
                    continue
                maximum = limit_maximum(refused)
                if maximum is None or maximum >= pager.page_size:
                    raise
                pager.page_size = maximum  # a hub with a smaller buffer than our page
                continue
            pager.take([parse_candle(row) for row in body["candles"]])
        return pager.candles()


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    return {"detail": response.text[:200] or response.reason_phrase}


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds; ``None`` without one (or as an HTTP date, which the
    hub never sends: the backoff stands in for it)."""
    header = response.headers.get("Retry-After")
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None
