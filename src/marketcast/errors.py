"""The one exception tree of marketcast.

    MarketcastError
    ├── InvalidRequest           a client asked for something malformed (400 / ws error)
    │   ├── InvalidInterval      not one of Binance's interval codes
    │   └── InvalidLimit         limit outside 1..buffer size
    ├── UnknownSymbol            not listed by the exchange (404 / close 4000)
    ├── CapacityExceeded         a configured cap (on-demand topics, subscriptions) is hit
    ├── NotReady                 the hub cannot answer yet (exchange info not loaded)
    ├── StoreUnavailable         the shared store (Redis) cannot be reached right now
    └── ExchangeError            talking to the exchange went wrong
        ├── ExchangeUnavailable  transport failure or 5xx: retryable
        ├── RateLimited          429/418: retryable after ``retry_after`` seconds
        └── ExchangeProtocolError  the exchange sent something we cannot parse: not retryable

Whether an error is worth retrying is decided in one place, :func:`is_retryable`.
"""

from __future__ import annotations

from collections.abc import Sequence


class MarketcastError(Exception):
    """Base of every error marketcast raises on purpose."""


class InvalidRequest(MarketcastError):
    """The request is malformed; the message says what would be valid."""

    code = "invalid_request"


class InvalidInterval(InvalidRequest):
    code = "invalid_interval"

    def __init__(self, given: str, valid: Sequence[str]) -> None:
        self.given = given
        self.valid = tuple(valid)
        super().__init__(
            f"invalid interval {given!r}; valid intervals (case-sensitive): {', '.join(valid)}"
        )


class InvalidMarket(InvalidRequest):
    code = "invalid_market"

    def __init__(self, given: str, valid: Sequence[str], detail: str = "") -> None:
        self.given = given
        reason = detail or f"invalid market {given!r}"
        super().__init__(f"{reason}; valid markets: {', '.join(valid)}")


class InvalidLimit(InvalidRequest):
    code = "invalid_limit"

    def __init__(self, given: object, maximum: int) -> None:
        self.given = given
        self.maximum = maximum
        super().__init__(f"invalid limit {given!r}; limit must be an integer in 1..{maximum}")


class BeforeHistory(InvalidRequest):
    """A candle range that ends before the exchange's first candle of the symbol."""

    code = "before_history"

    def __init__(self, symbol: str, interval: str, first_open_ms: int) -> None:
        self.first_open_ms = first_open_ms
        super().__init__(
            f"{symbol} {interval} has no candles before its first one, which opened at "
            f"{first_open_ms} (epoch ms); ask for candles from then on"
        )


class HistoryBusy(MarketcastError):
    """Older history cannot be fetched now: its share of the exchange's request weight is
    spent this minute, or the exchange is rate limiting or away. Retry after
    ``retry_after`` seconds."""

    code = "history_busy"

    def __init__(self, reason: str, retry_after: float) -> None:
        self.retry_after = max(retry_after, 0.0)
        super().__init__(f"older history is not available now ({reason}); retry later")


class UnknownSymbol(MarketcastError):
    code = "unknown_symbol"

    def __init__(self, given: str, suggestions: Sequence[str] = ()) -> None:
        self.given = given
        self.suggestions = tuple(suggestions)
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown symbol {given!r}{hint}")


class CapacityExceeded(MarketcastError):
    code = "capacity_exceeded"


class NotReady(MarketcastError):
    code = "not_ready"


class StoreUnavailable(MarketcastError):
    """The shared store did not answer (refused, reset, timed out); it may come back."""

    code = "store_unavailable"


class ExchangeError(MarketcastError):
    """Talking to the exchange failed."""


class ExchangeUnavailable(ExchangeError):
    """Transport failure, timeout or 5xx: the same call may succeed later."""


class RateLimited(ExchangeError):
    """429 (back off) or 418 (banned): retry after ``retry_after`` seconds."""

    def __init__(self, status: int, retry_after: float) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"exchange rate limit: HTTP {status}, retry after {retry_after:g}s")


class ExchangeProtocolError(ExchangeError):
    """The exchange sent something we cannot understand: a bug on one side, not a blip."""


def is_retryable(error: BaseException) -> bool:
    """The single place that decides whether a failed exchange call is worth repeating."""
    return isinstance(error, ExchangeUnavailable | RateLimited)


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` only says a dependency is away (the exchange unreachable, the
    store down): its :class:`~marketcast.outages.OutageLog` reports that once, so the
    many callers who meet it log it at DEBUG, not once per retry each."""
    return isinstance(error, ExchangeUnavailable | StoreUnavailable)
