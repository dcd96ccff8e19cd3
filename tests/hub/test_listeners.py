"""A feed's listeners: told in order, one failing never starves the others."""

from __future__ import annotations

import pytest

from marketcast.hub.listeners import Listeners


def test_every_listener_is_told_even_after_one_fails(caplog: pytest.LogCaptureFixture) -> None:
    heard: list[tuple[str, int]] = []
    listeners: Listeners[int] = Listeners("order book BTCUSDT")

    def broken(value: int) -> None:
        raise RuntimeError("a bug in one connection")

    listeners.watch(lambda v: heard.append(("first", v)))
    listeners.watch(broken)
    listeners.watch(lambda v: heard.append(("last", v)))
    listeners.tell(7)
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
