"""A feed's listeners: told in order, one failing never starves the others."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketcast.domain.liquidations import Liquidation
from marketcast.hub.liquidations.holdings import LiquidationListeners
from marketcast.hub.symbol_feeds.listeners import Listeners


def test_every_listener_is_told_even_after_one_fails(caplog: pytest.LogCaptureFixture) -> None:
    heard: list[tuple[str, int]] = []
    listeners: Listeners[int] = Listeners("order book BTCUSDT")

    def broken(value: int) -> None:
        raise RuntimeError("a bug in one connection")

    listeners.watch(lambda v: heard.append(("first", v)))
    listeners.watch(broken)
    listeners.watch(lambda v: heard.append(("last", v)))
    assert listeners.tell(7) == 1  # how many failed, for a feed's error count
    assert heard == [("first", 7), ("last", 7)]
    assert "order book BTCUSDT: a listener failed" in caplog.text


def test_unwatching_stops_the_telling_and_is_safe_twice() -> None:
    heard: list[int] = []
    listeners: Listeners[int] = Listeners("trade tape ETHUSDT")
    unwatch = listeners.watch(heard.append)
    assert len(listeners) == 1
    unwatch()
    unwatch()
    listeners.tell(1)
    assert heard == []
    assert len(listeners) == 0


def test_liquidation_listeners_count_failures_and_drop_an_emptied_symbol() -> None:
    heard: list[Liquidation] = []
    listeners = LiquidationListeners()

    def broken(liquidation: Liquidation) -> None:
        raise RuntimeError("a bug in one connection")

    stop_heard = listeners.watch("BTCUSDT", heard.append)
    stop_broken = listeners.watch("BTCUSDT", broken)
    assert listeners.count("BTCUSDT") == 2
    sample = [
        Liquidation("BTCUSDT", "BUY", Decimal(1), Decimal(9), Decimal(9), 1_000),
        Liquidation("BTCUSDT", "SELL", Decimal(2), Decimal(9), Decimal(9), 2_000),
    ]
    listeners.tell("BTCUSDT", sample)
    listeners.tell("ETHUSDT", sample)  # nobody watches it
    assert heard == sample
    assert listeners.errors == 2
    stop_heard()
    stop_broken()
    stop_broken()
    assert listeners.count("BTCUSDT") == 0
    assert "BTCUSDT" not in listeners._by_symbol
