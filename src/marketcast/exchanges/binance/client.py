"""The one path every Binance REST call takes: weight budget, concurrency, retries, errors.

Status codes become marketcast errors here, and :func:`marketcast.errors.is_retryable`
alone decides whether a call is repeated:

- 429/418 -> :class:`RateLimited`; every caller waits out ``Retry-After``, then retries.
- 5xx, timeouts, connection failures -> :class:`ExchangeUnavailable`, retried with backoff.
  Each retry also waits longer for its answer (the timeout doubles, up to
  ``MAX_TIMEOUT_S``): on a starved machine every request is slow, and requests that all
  time out at the same bound would only time out again together.
- other 4xx -> :class:`RequestRejected` (Binance's ``{"code", "msg"}``), not retried.
- a 2xx body that is not JSON -> :class:`ExchangeProtocolError`, not retried.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import random
import ssl
import time
from dataclasses import dataclass
from typing import Any, Final

import httpx
import orjson

from marketcast.errors import (
    ExchangeError,
    ExchangeProtocolError,
    ExchangeUnavailable,
    HistoryBusy,
    RateLimited,
    is_retryable,
)
from marketcast.exchanges.binance.limits import Backoff, WeightBudget
from marketcast.metrics import REST_RATE_LIMITED, REST_REQUESTS, REST_WEIGHT_USED
from marketcast.outages import OutageLog
from marketcast.resources import AsyncResource

log = logging.getLogger(__name__)

USED_WEIGHT_HEADER: Final = "X-MBX-USED-WEIGHT-1M"
MAX_TIMEOUT_S: Final = 60.0
# Binance always sends Retry-After with 429/418; these apply only if it goes missing.
# A 418 ban lasts at least two minutes.
_DEFAULT_RETRY_AFTER: Final = {429: 5.0, 418: 120.0}


class RequestRejected(ExchangeProtocolError):
    """Binance refused the request itself (4xx): asking again will not help.

    ``code`` and ``msg`` are Binance's error fields, e.g. ``-1121`` "Invalid symbol.".
    """

    def __init__(self, status: int, code: int | None, msg: str) -> None:
        self.status = status
        self.code = code
        self.msg = msg
        super().__init__(f"exchange rejected the request: HTTP {status}, code {code}: {msg}")


@dataclass(frozen=True, slots=True)
class RestStats:
    """Counters for ``/health`` and metrics; ``weight_used_last`` is the last header seen."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    weight_used_last: int | None = None


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default TLS context, made once: each client would otherwise load the CA
    bundle again, about 60 ms of CPU, and a node starts one per market."""
    return httpx.create_ssl_context()


class ThrottledClient(AsyncResource):
    """An httpx client that spends REST weight carefully and retries what is worth it."""

    def __init__(
        self,
        base_url: str,
        *,
        weight_limit: int = 6000,
        max_concurrency: int = 16,
        timeout: float = 10.0,
        max_attempts: int = 6,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        outage_hint: str = "",
        market: str = "spot",
    ) -> None:
        if max_attempts < 1 or max_concurrency < 1:
            raise ValueError("max_attempts and max_concurrency must be at least 1")
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, transport=transport, verify=tls_context()
        )
        self._timeout = timeout
        self._budget = WeightBudget(weight_limit)
        self._slots = asyncio.Semaphore(max_concurrency)
        self._backoff = Backoff(base=0.25, cap=10.0, rng=rng or random.Random())
        self._max_attempts = max_attempts
        self._stats = RestStats()
        self.outage = OutageLog(f"exchange REST at {base_url}", hint=outage_hint)
        self._requests_metric = REST_REQUESTS.labels(market)
        self._weight_metric = REST_WEIGHT_USED.labels(market)
        self._market = market

    @property
    def stats(self) -> RestStats:
        return self._stats

    @property
    def weight_limit(self) -> int:
        """Request weight per minute this client budgets for (before its safety margin)."""
        return self._budget.limit

    async def get_json(self, path: str, params: dict[str, str | int], *, weight: int) -> Any:
        """GET ``path`` and return its decoded JSON body, retrying retryable failures."""
        backoff = self._backoff.fresh()
        for attempt in range(1, self._max_attempts + 1):
            try:
                timeout = min(MAX_TIMEOUT_S, self._timeout * 2 ** (attempt - 1))
                body = await self._attempt(path, params, weight, timeout)
            except ExchangeError as exc:
                if isinstance(exc, RateLimited):
                    log.warning("GET %s: %s", path, exc)  # each is news to an operator
                elif isinstance(exc, ExchangeUnavailable):
                    self.outage.failed(str(exc))
                if not is_retryable(exc) or attempt == self._max_attempts:
                    raise
                self._count(retries=1)
                if not isinstance(exc, RateLimited):
                    # A rate limit already blocks the budget; other failures back off here.
                    await asyncio.sleep(backoff.next_delay())
            else:
                self.outage.succeeded()
                return body
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def get_json_within(
        self, path: str, params: dict[str, str | int], *, weight: int, share: float
    ) -> Any:
        """One attempt that spends at most ``share`` of the weight budget and never waits.

        For a request someone is waiting on that the live feeds must not pay for (older
        history): when it cannot go now, the caller is told when to retry instead.

        Raises:
            HistoryBusy: the share is spent this minute, the exchange rate limits us, or
                it is unavailable; ``retry_after`` says when to ask again.
        """
        delay = self._budget.delay_within(weight, share, time.time())
        if delay > 0:
            raise HistoryBusy("its share of the exchange request weight is spent", delay)
        try:
            body = await self._attempt(path, params, weight, self._timeout, budgeted=True)
        except RateLimited as exc:
            raise HistoryBusy("the exchange is rate limiting", exc.retry_after) from exc
        except ExchangeUnavailable as exc:
            self.outage.failed(str(exc))
            raise HistoryBusy("the exchange is unavailable", 1.0) from exc
        self.outage.succeeded()
        return body

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _attempt(
        self,
        path: str,
        params: dict[str, str | int],
        weight: int,
        wait_s: float,
        *,
        budgeted: bool = False,
    ) -> Any:
        if budgeted:  # checked by the caller; reserved before any await
            self._budget.reserve(weight, time.time())
        async with self._slots:
            if not budgeted:
                await self._wait_for_budget(weight)
            self._count(requests=1)
            self._requests_metric.inc()
            try:
                response = await self._http.get(path, params=params, timeout=wait_s)
            except httpx.TransportError as exc:
                raise ExchangeUnavailable(f"GET {path}: {exc!r}") from exc
        self._record_weight(response)
        try:
            return _decode(response)
        except RateLimited as exc:
            self._budget.on_rate_limited(exc.retry_after, time.time())
            self._count(rate_limited=1)
            REST_RATE_LIMITED.labels(self._market, str(exc.status)).inc()
            raise

    async def _wait_for_budget(self, weight: int) -> None:
        # Checking and reserving happen without an await in between, so concurrent
        # callers cannot both squeeze into the last bit of the budget.
        while True:
            delay = self._budget.delay_for(weight, time.time())
            if delay <= 0:
                self._budget.reserve(weight, time.time())
                return
            await asyncio.sleep(delay)

    def _record_weight(self, response: httpx.Response) -> None:
        header = response.headers.get(USED_WEIGHT_HEADER)
        if header is None or not header.strip().isdigit():
            return
        used = int(header)
        self._budget.record_used(used, time.time())
        self._stats = dataclasses.replace(self._stats, weight_used_last=used)
        self._weight_metric.set(used)

    def _count(self, *, requests: int = 0, retries: int = 0, rate_limited: int = 0) -> None:
        s = self._stats
        self._stats = dataclasses.replace(
            s,
            requests=s.requests + requests,
            retries=s.retries + retries,
            rate_limited=s.rate_limited + rate_limited,
        )


def _decode(response: httpx.Response) -> Any:
    status = response.status_code
    if status in _DEFAULT_RETRY_AFTER:
        retry_after = _retry_after(response.headers.get("Retry-After"), status)
        raise RateLimited(status, retry_after)
    if status >= 500:
        raise ExchangeUnavailable(f"HTTP {status} from {response.request.url.path}")
    if status >= 400:
        code, msg = _binance_error(response.content)
        raise RequestRejected(status, code, msg)
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise ExchangeProtocolError(
            f"HTTP {status} body is not JSON: {response.content[:200]!r}"
        ) from None


def _retry_after(header: str | None, status: int) -> float:
    try:
        seconds = float(header) if header is not None else None
    except ValueError:
        seconds = None
    return seconds if seconds is not None and seconds >= 0 else _DEFAULT_RETRY_AFTER[status]


def _binance_error(body: bytes) -> tuple[int | None, str]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, body[:200].decode("utf-8", "replace")
    if isinstance(payload, dict):
        code = payload.get("code")
        return (code if isinstance(code, int) else None), str(payload.get("msg", ""))
    return None, str(payload)[:200]
