"""Candle and trade subscriptions: what they send, how they resume, how a reset shows."""

from __future__ import annotations

from typing import Any

from marketcast.client import Candle, Reset, Trade
from marketcast.client.channels import CandleChannel, TradeChannel
from marketcast.client.errors import HubError


def row(time: int, close: float, *, closed: bool = True) -> dict[str, Any]:
    return {
        "time": time,
        "open": 1.0,
        "high": 9.0,
        "low": 0.5,
        "close": close,
        "volume": 3.0,
        "closed": closed,
    }


def snapshot(*rows: dict[str, Any], reset: bool = False) -> dict[str, Any]:
    return {"type": "snapshot", "channel": "candles", "reset": reset, "candles": list(rows)}


def update(candle: dict[str, Any]) -> dict[str, Any]:
    return {"type": "candle", "channel": "candles", "candle": candle, "event_time": None}


def candle(time: int, close: float, *, closed: bool = True) -> Candle:
    return Candle(time, 1.0, 9.0, 0.5, close, 3.0, closed)


def test_candles_resume_from_the_newest_open_time_held() -> None:
    channel = CandleChannel("BTCUSDT", "1m", None, 500, None)
    first = channel.subscription()
    assert first == {
        "op": "subscribe",
        "channel": "candles",
        "symbol": "BTCUSDT",
        "interval": "1m",
        "limit": 500,
    }
    channel.receive(snapshot(row(60, 1.0), row(120, 2.0, closed=False)))
    assert channel.subscription() == first | {"since": 120}


def test_only_changes_are_yielded_so_a_resume_repeats_nothing() -> None:
    channel = CandleChannel("BTCUSDT", "1m", "usdm", None, None)
    assert "limit" not in channel.subscription()
    assert channel.subscription()["market"] == "usdm"
    assert channel.receive(snapshot(row(60, 1.0), row(120, 2.0, closed=False))) == [
        candle(60, 1.0),
        candle(120, 2.0, closed=False),
    ]
    assert channel.receive(update(row(120, 2.0, closed=False))) == []  # the gate's repeat
    assert channel.receive(update(row(120, 2.5))) == [candle(120, 2.5)]
    assert channel.receive(update(row(120, 2.4, closed=False))) == []  # a stale copy
    channel.disconnected()
    assert channel.receive(update(row(180, 1.0, closed=False))) == []  # not subscribed
    channel.subscription()
    resumed = snapshot(row(120, 2.5), row(180, 3.0, closed=False))
    assert channel.receive(resumed) == [candle(180, 3.0, closed=False)]
    assert [c.time for c in channel.series] == [60, 120, 180]


def test_a_reset_snapshot_yields_a_reset_then_the_new_series() -> None:
    channel = CandleChannel("BTCUSDT", "1m", None, 2, None)
    channel.receive(snapshot(row(60, 1.0), row(120, 2.0)))
    events = channel.receive(snapshot(row(6000, 5.0), row(6060, 6.0), reset=True))
    assert events == [Reset("candles", 2, 120), candle(6000, 5.0), candle(6060, 6.0)]
    assert [c.time for c in channel.series] == [6000, 6060]


def test_a_history_larger_than_the_hub_keeps_is_lowered_to_its_bound() -> None:
    channel = CandleChannel("BTCUSDT", "1m", None, 500, None)
    refusal = HubError("invalid_limit", "invalid limit 500; limit must be an integer in 1..300")
    assert channel.refused(refusal)
    assert channel.subscription()["limit"] == 300
    assert not channel.refused(refusal)  # already within it: a real refusal
    assert not channel.refused(HubError("unknown_symbol", "unknown symbol 'X'"))


def trade_row(trade_id: int) -> dict[str, Any]:
    return {"id": trade_id, "price": 10.5, "amount": 0.25, "side": "buy", "timestamp": trade_id}


def trades_message(*ids: int, kind: str = "trades", reset: bool = False) -> dict[str, Any]:
    message = {"type": kind, "channel": "trades", "trades": [trade_row(i) for i in ids]}
    return message | ({"reset": reset} if kind == "snapshot" else {})


def test_trades_resume_after_the_last_id_and_a_reset_drops_the_tape() -> None:
    channel = TradeChannel("BTCUSDT", None, 50, 1000)
    assert channel.subscription() == {
        "op": "subscribe",
        "channel": "trades",
        "symbol": "BTCUSDT",
        "limit": 50,
    }
    assert channel.receive(trades_message(7)) == []  # before the snapshot: not ours
    snapshot_trades = channel.receive(trades_message(1, 2, kind="snapshot"))
    assert [t.id for t in snapshot_trades if isinstance(t, Trade)] == [1, 2]
    got = channel.receive(trades_message(2, 3))
    assert got == [Trade(3, 10.5, 0.25, "buy", 3)]
    assert channel.subscription()["since"] == 3
    events = channel.receive(trades_message(90, 91, kind="snapshot", reset=True))
    assert events[0] == Reset("trades", 3, 3)
    assert [t.id for t in channel.tape.trades()] == [90, 91]
    assert channel.receive({"type": "pong"}) == []
