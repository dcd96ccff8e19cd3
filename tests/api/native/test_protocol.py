"""Native /ws client messages and REST query parameters: valid forms and clear errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from marketcast.api.errors import ProtocolError
from marketcast.api.feeds.lookup import chosen_rounding, trades_after
from marketcast.api.native.protocol import (
    BookSubscribe,
    FeedUnsubscribe,
    LiquidationSubscribe,
    Ping,
    Subscribe,
    TradeSubscribe,
    Unsubscribe,
    parse_client_message,
    parse_rounding,
)
from marketcast.api.params import parse_hours, parse_limit, parse_time
from marketcast.domain.intervals import Interval
from marketcast.domain.market import SymbolMeta
from marketcast.domain.trades import Trade
from marketcast.errors import InvalidInterval, InvalidLimit, InvalidRequest


def test_subscribe_with_since_in_seconds_or_ms() -> None:
    raw = (
        '{"op":"subscribe","channel":"candles","symbol":"BTCUSDT",'
        '"interval":"1m","since":1700000000}'
    )
    message = parse_client_message(raw)
    assert message == Subscribe("candles", "BTCUSDT", Interval.parse("1m"), 1_700_000_000_000, None)
    raw_ms = raw.replace("1700000000", "1700000000000")
    assert parse_client_message(raw_ms) == message


def test_ping_and_unsubscribe() -> None:
    assert parse_client_message('{"op":"ping"}') == Ping()
    assert parse_client_message(
        '{"op":"unsubscribe","symbol":"ETHUSDT","interval":"1M"}'
    ) == Unsubscribe("candles", "ETHUSDT", Interval.parse("1M"))


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "malformed"),
        ("[1,2]", "malformed"),
        ('{"op":"dance"}', "unknown_op"),
        ('{"op":"subscribe","channel":"news","symbol":"X"}', "unknown_channel"),
        ('{"op":"subscribe","symbol":""}', "invalid_symbol"),
        ('{"op":"subscribe","symbol":"BTCUSDT","since":"yesterday"}', "malformed"),
        ('{"op":"subscribe","symbol":"BTCUSDT","limit":true}', "malformed"),
        ('{"op":"subscribe","channel":"trades","symbol":"BTCUSDT","since":"7"}', "malformed"),
        ('{"op":"subscribe","channel":"trades","symbol":"BTCUSDT","limit":2.5}', "malformed"),
        ('{"op":"subscribe","channel":"orderbook","symbol":"BTCUSDT","limit":"5"}', "malformed"),
        (
            '{"op":"subscribe","channel":"orderbook","symbol":"X","rounding":"a"}',
            "invalid_rounding",
        ),
        ('{"op":"subscribe","channel":"orderbook","symbol":"X","rounding":0}', "invalid_rounding"),
        (
            '{"op":"subscribe","channel":"orderbook","symbol":"X","rounding":"-1"}',
            "invalid_rounding",
        ),
        (
            '{"op":"subscribe","channel":"orderbook","symbol":"X","rounding":"NaN"}',
            "invalid_rounding",
        ),
        ('{"op":"subscribe","channel":"orderbook","symbol":"X","rounding":[1]}', "malformed"),
        ('{"op":"subscribe","channel":"orderbook","symbol":"X","rounding":true}', "malformed"),
        ('{"op":"subscribe","channel":"liquidations","symbol":"X","timeframe":5}', "malformed"),
        ('{"op":"unsubscribe","channel":"trades"}', "invalid_symbol"),
    ],
)
def test_malformed_messages_get_a_coded_error(raw: str, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_message(raw)
    assert caught.value.code == code


def feed(op: str, channel: str, **fields: Any) -> str:
    return orjson.dumps({"op": op, "channel": channel, "symbol": "btc/usdt"} | fields).decode()


def test_feed_subscriptions_carry_their_params_and_the_symbol_as_typed() -> None:
    assert parse_client_message(feed("subscribe", "orderbook")) == BookSubscribe("btc/usdt")
    assert parse_client_message(
        feed("subscribe", "orderbook", limit=10, rounding="0.10")
    ) == BookSubscribe("btc/usdt", 10, Decimal("0.1"))
    assert parse_client_message(
        feed("subscribe", "trades", limit=5, since=3_055_171)
    ) == TradeSubscribe("btc/usdt", 5, 3_055_171)
    assert parse_client_message(
        feed("subscribe", "liquidations", timeframe="4h")
    ) == LiquidationSubscribe("btc/usdt", None, Interval.parse("4h"))


def test_trades_since_is_a_trade_id_not_a_time() -> None:
    # Candles read a small since as seconds; a trade id must never be scaled.
    message = parse_client_message(feed("subscribe", "trades", since=12))
    assert message == TradeSubscribe("btc/usdt", None, 12)


@pytest.mark.parametrize("channel", ["trades", "orderbook", "liquidations"])
def test_feed_unsubscribe_needs_no_interval(channel: str) -> None:
    assert parse_client_message(feed("unsubscribe", channel, interval="1D")) == FeedUnsubscribe(
        channel,  # type: ignore[arg-type]
        "btc/usdt",
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [("0.1", "0.1"), (0.1, "0.1"), (10, "10"), ("1e1", "10"), (0.0001, "0.0001"), ("", None)],
)
def test_rounding_is_read_as_the_exact_decimal_the_client_meant(
    given: object, expected: str | None
) -> None:
    rounding = parse_rounding(given)
    assert rounding == (None if expected is None else Decimal(expected))


def test_liquidation_timeframe_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidInterval) as caught:
        parse_client_message(feed("subscribe", "liquidations", timeframe="3m"))
    assert caught.value.valid == ("1m", "5m", "15m", "30m", "1h", "4h", "1d")


def test_bad_interval_lists_valid_ones() -> None:
    with pytest.raises(InvalidInterval):
        parse_client_message('{"op":"subscribe","symbol":"BTCUSDT","interval":"1D"}')


def test_limit_bounds() -> None:
    assert parse_limit(None, default=500, maximum=1000) == 500
    assert parse_limit(None, default=500, maximum=100) == 100
    assert parse_limit("1000", default=500, maximum=1000) == 1000
    for bad in ("0", "1001", "-5", "ten", "1.5"):
        with pytest.raises(InvalidLimit, match=r"1\.\.1000"):
            parse_limit(bad, default=500, maximum=1000)


def test_time_and_hours() -> None:
    assert parse_time("1700000000", "since") == 1_700_000_000_000
    assert parse_time(None, "since") is None
    with pytest.raises(InvalidRequest, match="since"):
        parse_time("soon", "since")
    assert parse_hours("12", default=1, maximum=48) == 12
    with pytest.raises(InvalidRequest, match="hours"):
        parse_hours("0", default=1, maximum=48)


def _trade(trade_id: int) -> Trade:
    return Trade(trade_id, Decimal(60000), Decimal("0.015"), False, 1_700_000_000_000 + trade_id)


def _ids_after(since: int | None, limit: int) -> tuple[list[int], bool]:
    held = [_trade(i) for i in range(20, 9, -1)]  # ids 20..10, newest first
    trades, reset = trades_after(held, since, limit)
    return [t.id for t in trades], reset


def test_trades_after_continues_from_since_or_resets_when_the_tape_lost_it() -> None:
    assert _ids_after(None, 3) == ([18, 19, 20], False)
    assert _ids_after(17, 3) == ([18, 19, 20], False)
    # 10 follows 9: the client's copy stays continuous, so everything after it comes.
    assert _ids_after(9, 3) == (list(range(10, 21)), False)
    # 9 is no longer held: the client's copy would have a hole, so it starts over.
    assert _ids_after(8, 3) == ([18, 19, 20], True)
    assert _ids_after(20, 3) == ([], False)
    # Ahead of this tape (the client followed another node): nothing to add yet.
    assert _ids_after(25, 3) == ([], False)
    # An empty tape (its newest released id was lost for good) proves nothing: start over.
    assert trades_after([], 5, 3) == ([], True)
    assert trades_after([], None, 3) == ([], False)


def test_rounding_must_be_one_of_the_symbols_options() -> None:
    meta = _meta_like(options=(Decimal("0.01"), Decimal("0.1"), Decimal("1")), default="0.1")
    assert chosen_rounding(meta, None) == Decimal("0.1")
    assert chosen_rounding(meta, Decimal("1.00")) == Decimal("1")
    with pytest.raises(ProtocolError, match=r"0\.01, 0\.1, 1") as caught:
        chosen_rounding(meta, Decimal("0.5"))
    assert caught.value.code == "invalid_rounding"


def _meta_like(options: tuple[Decimal, ...], default: str) -> SymbolMeta:
    return SymbolMeta(
        "BTCUSDT", "BTCUSDT", "BTC", "USDT", "BTC/USDT", Decimal("0.01"), Decimal("0.001"), 2, 3,
        Decimal(0), "0.00", options, Decimal(default), None, None,
    )  # fmt: skip
