"""What each subscription sends and how it folds the hub's messages into its copy (pure).

A channel builds its ``subscribe`` message from what it holds (so a reconnect resumes
where it left off), applies each message of its subscription to its copy, and returns
what the stream yields. The socket, the retries and the waiting are
:mod:`marketcast.client.connection`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from marketcast.client.errors import HubError, limit_maximum
from marketcast.client.events import Reset
from marketcast.client.series import Candle, CandleSeries, parse_candle
from marketcast.client.trades import Trade, TradeTape, parse_trade

Json = dict[str, Any]
T_co = TypeVar("T_co", covariant=True)


class Channel(Protocol[T_co]):
    """One subscription's protocol; see the module docstring."""

    def subscription(self) -> Json:
        """The ``subscribe`` message for what is held now; the next snapshot answers it."""
        ...

    def receive(self, message: Json) -> Sequence[T_co]:
        """Apply one message; return what to yield. Raises ``OutOfSync`` to resubscribe."""
        ...

    def refused(self, error: HubError) -> bool:
        """Adapt to a refused subscription if it can; ``True``: subscribe again at once."""
        ...

    def disconnected(self) -> None:
        """The socket is gone: nothing held is live until the next snapshot."""
        ...


def _with_market(message: Json, market: str | None) -> Json:
    return message if market is None else message | {"market": market}


class CandleChannel:
    """``candles``: resumes with ``since`` = the newest open time held."""

    def __init__(
        self, symbol: str, interval: str, market: str | None, history: int | None, keep: int | None
    ) -> None:
        self.symbol, self.interval, self.market = symbol, interval, market
        self.history = history
        self.series = CandleSeries(keep)
        self.live = False

    def subscription(self) -> Json:
        self.live = False
        message: Json = {"op": "subscribe", "channel": "candles", "symbol": self.symbol}
        message["interval"] = self.interval
        if self.history is not None:
            message["limit"] = self.history
        if (since := self.series.newest_time) is not None:
            message["since"] = since
        return _with_market(message, self.market)

    def receive(self, message: Json) -> list[Candle | Reset]:
        if message.get("channel", "candles") != "candles":
            return []
        kind = message.get("type")
        if kind == "snapshot":
            self.live = True
            events: list[Candle | Reset] = []
            if message.get("reset"):
                last_held = self.series.newest_time
                events.append(Reset("candles", self.series.clear(), last_held))
            return events + self._upserted(message["candles"])
        if kind == "candle" and self.live:
            return list(self._upserted([message["candle"]]))
        return []

    def _upserted(self, rows: list[Json]) -> list[Candle | Reset]:
        candles = [parse_candle(row) for row in rows]
        return [candle for candle in candles if self.series.upsert(candle)]

    def refused(self, error: HubError) -> bool:
        return _lower_history(self, error)

    def disconnected(self) -> None:
        self.live = False


class TradeChannel:
    """``trades``: resumes with ``since`` = the last trade id held."""

    def __init__(self, symbol: str, market: str | None, history: int | None, keep: int) -> None:
        self.symbol, self.market = symbol, market
        self.history = history
        self.tape = TradeTape(keep)
        self.live = False

    def subscription(self) -> Json:
        self.live = False
        message: Json = {"op": "subscribe", "channel": "trades", "symbol": self.symbol}
        if self.history is not None:
            message["limit"] = self.history
        if self.tape.last_id is not None:
            message["since"] = self.tape.last_id
        return _with_market(message, self.market)

    def receive(self, message: Json) -> list[Trade | Reset]:
        if message.get("channel") != "trades":
            return []
        kind = message.get("type")
        events: list[Trade | Reset] = []
        if kind == "snapshot":
            self.live = True
            if message.get("reset"):
                last_held = self.tape.last_id
                events.append(Reset("trades", self.tape.clear(), last_held))
        elif kind != "trades" or not self.live:
            return []
        trades = [parse_trade(row) for row in message["trades"]]
        return events + [trade for trade in trades if self.tape.append(trade)]

    def refused(self, error: HubError) -> bool:
        return _lower_history(self, error)

    def disconnected(self) -> None:
        self.live = False


def _lower_history(channel: CandleChannel | TradeChannel, error: HubError) -> bool:
    """Ask for no more history than the hub keeps, rather than fail on a larger default."""
    maximum = limit_maximum(error)
    if maximum is None or channel.history is None or channel.history <= maximum:
        return False
    channel.history = maximum
    return True
