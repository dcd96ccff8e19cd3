"""Binance payloads (recorded from Binance's documentation) become marketcast values."""

from __future__ import annotations

import contextlib

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketcast.domain.candles import Candle
from marketcast.domain.intervals import INTERVALS, Interval
from marketcast.domain.topics import Topic
from marketcast.errors import ExchangeProtocolError
from marketcast.exchanges.binance import (
    ControlReply,
    KlineUpdate,
    ServerShutdown,
    SymbolInfo,
    parse_exchange_info,
    parse_rest_kline,
    parse_ws_message,
    stream_name,
    topic_from_stream,
)

DOC_KLINE_EVENT = b"""{
  "e": "kline", "E": 1672515782136, "s": "BNBBTC",
  "k": {"t": 1672515780000, "T": 1672515839999, "s": "BNBBTC", "i": "1m",
        "f": 100, "L": 200, "o": "0.0010", "c": "0.0020", "h": "0.0025",
        "l": "0.0015", "v": "1000", "n": 100, "x": false, "q": "1.0000",
        "V": "500", "Q": "0.500", "B": "123456"}
}"""
DOC_REST_ROW = [
    1499040000000, "0.01634790", "0.80000000", "0.01575800", "0.01577100",
    "148976.11427815", 1499644799999, "2434.19055334", 308, "1756.87402397",
    "28.46694368", "17928899.62484339",
]  # fmt: skip
DOC_EXCHANGE_INFO = {
    "timezone": "UTC",
    "serverTime": 1565246363776,
    "rateLimits": [],
    "exchangeFilters": [],
    "symbols": [
        {
            "symbol": "ETHBTC",
            "status": "TRADING",
            "baseAsset": "ETH",
            "baseAssetPrecision": 8,
            "quoteAsset": "BTC",
            "quotePrecision": 8,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": "0.00000100",
                    "maxPrice": "100000.00000000",
                    "tickSize": "0.00000100",
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": "0.00100000",
                    "maxQty": "100000.00000000",
                    "stepSize": "0.00100000",
                },
            ],
            "permissions": ["SPOT", "MARGIN"],
        }
    ],
}


def combined(stream: str, data: bytes) -> bytes:
    return b'{"stream":"' + stream.encode() + b'","data":' + data + b"}"


def test_raw_kline_event_becomes_a_kline_update() -> None:
    update = parse_ws_message(DOC_KLINE_EVENT)
    assert update == KlineUpdate(
        topic=Topic("BNBBTC", Interval.parse("1m")),
        candle=Candle(1672515780000, 0.001, 0.0025, 0.0015, 0.002, 1000.0, 1.0, 100, False),
        event_time=1672515782136,
    )


def test_combined_frame_unwraps_and_accepts_text() -> None:
    update = parse_ws_message(combined("bnbbtc@kline_1m", DOC_KLINE_EVENT).decode())
    assert isinstance(update, KlineUpdate)
    assert update.topic == Topic.of("BNBBTC", "1m")


def test_month_interval_stays_a_month() -> None:
    data = DOC_KLINE_EVENT.replace(b'"i": "1m"', b'"i": "1M"')
    update = parse_ws_message(combined("bnbbtc@kline_1M", data))
    assert isinstance(update, KlineUpdate)
    assert update.topic.interval.code == "1M"


def test_final_kline_is_closed() -> None:
    update = parse_ws_message(DOC_KLINE_EVENT.replace(b'"x": false', b'"x": true'))
    assert isinstance(update, KlineUpdate)
    assert update.candle.closed


@pytest.mark.parametrize(
    "frame",
    [
        b'{"e": "serverShutdown", "E": 1770123456789}',
        b'{"event": {"e": "serverShutdown", "E": 1770123456789}}',
        b'{"stream": "bnbbtc@kline_1m", "data": {"e": "serverShutdown", "E": 1770123456789}}',
    ],
)
def test_server_shutdown_in_every_wrapping(frame: bytes) -> None:
    assert parse_ws_message(frame) == ServerShutdown(1770123456789)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (b'{"result": null, "id": 1}', ControlReply(1)),
        (b'{"result": ["btcusdt@aggTrade"], "id": 3}', ControlReply(3, ["btcusdt@aggTrade"])),
        (
            b'{"code": 0, "msg": "Unknown property", "id": 5}',
            ControlReply(5, error_code=0, error_message="Unknown property"),
        ),
        (
            b'{"error": {"code": 2, "msg": "Invalid request"}, "id": "a1"}',
            ControlReply("a1", error_code=2, error_message="Invalid request"),
        ),
        (
            b'{"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}',
            ControlReply(
                None, error_code=3, error_message="Invalid JSON: expected value at line 1 column 1"
            ),
        ),
    ],
)
def test_control_replies(frame: bytes, expected: ControlReply) -> None:
    reply = parse_ws_message(frame)
    assert reply == expected
    assert isinstance(reply, ControlReply)
    assert reply.ok == (expected.error_code is None)


def _kline_with(**changes: object) -> bytes:
    event = orjson.loads(DOC_KLINE_EVENT)
    event["k"].update(changes)
    return orjson.dumps(event)


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"not json",
        b"[1, 2, 3]",
        b'"just a string"',
        b'{"e": "trade", "E": 1, "s": "BNBBTC"}',
        b'{"e": "kline", "E": 1, "s": "BNBBTC"}',
        b'{"stream": "bnbbtc@kline_1m", "data": 1}',
        b'{"stream": 7, "data": {}}',
        b'{"id": 1}',
        combined("ethbtc@kline_1m", DOC_KLINE_EVENT),
        combined("bnbbtc@kline_5m", DOC_KLINE_EVENT),
        _kline_with(x="false"),
        _kline_with(i="2m"),
        _kline_with(i=None),
        _kline_with(t=-1),
        _kline_with(t=True),
        _kline_with(t="1672515780000"),
        _kline_with(o="abc"),
        _kline_with(h="NaN"),
        _kline_with(l="inf"),
        _kline_with(v=None),
        _kline_with(n=1.5),
        _kline_with(s=""),
        DOC_KLINE_EVENT.replace(b'"E": 1672515782136', b'"E": null'),
    ],
)
def test_malformed_frames_raise_protocol_errors(frame: bytes) -> None:
    with pytest.raises(ExchangeProtocolError):
        parse_ws_message(frame)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_but_protocol_errors(frame: bytes) -> None:
    with contextlib.suppress(ExchangeProtocolError):
        parse_ws_message(frame)


def test_rest_row_becomes_a_candle() -> None:
    candle = parse_rest_kline(DOC_REST_ROW, closed=True)
    assert candle == Candle(
        1499040000000, 0.0163479, 0.8, 0.015758, 0.015771, 148976.11427815, 2434.19055334, 308,
        True,
    )  # fmt: skip


@pytest.mark.parametrize(
    "row",
    [None, {}, [], DOC_REST_ROW[:8], ["x", *DOC_REST_ROW[1:]], [*DOC_REST_ROW[:8], "308"]],
)
def test_malformed_rest_rows_raise(row: object) -> None:
    with pytest.raises(ExchangeProtocolError):
        parse_rest_kline(row, closed=False)


def test_numbers_instead_of_strings_still_parse_as_the_same_candle() -> None:
    as_numbers = [v if i in (0, 6, 8) else float(str(v)) for i, v in enumerate(DOC_REST_ROW[:11])]
    assert parse_rest_kline(as_numbers, closed=True) == parse_rest_kline(DOC_REST_ROW, closed=True)


@pytest.mark.parametrize(
    ("index", "value", "named"),
    [(2, "NaN", "high"), (5, "inf", "volume"), (1, True, "open"), (0, -1, "open time")],
)
def test_a_bad_field_is_named(index: int, value: object, named: str) -> None:
    row = list(DOC_REST_ROW)
    row[index] = value
    with pytest.raises(ExchangeProtocolError, match=named):
        parse_rest_kline(row, closed=False)


def test_exchange_info_yields_sizes_as_strings() -> None:
    assert parse_exchange_info(DOC_EXCHANGE_INFO) == [
        SymbolInfo("ETHBTC", "ETH", "BTC", "TRADING", "0.00000100", "0.00100000")
    ]


def test_exchange_info_skips_listings_without_filters() -> None:
    listing = dict(DOC_EXCHANGE_INFO["symbols"][0])  # type: ignore[index]
    broken = {**listing, "symbol": "NOFILTERS", "filters": []}
    payload = {**DOC_EXCHANGE_INFO, "symbols": [broken, listing]}
    assert [s.symbol for s in parse_exchange_info(payload)] == ["ETHBTC"]


@pytest.mark.parametrize("payload", [None, [], {"symbols": None}, {"symbols": [1]}])
def test_exchange_info_without_a_symbol_list_raises(payload: object) -> None:
    with pytest.raises(ExchangeProtocolError):
        parse_exchange_info(payload)


@pytest.mark.parametrize("interval", INTERVALS, ids=str)
def test_stream_names_round_trip_for_every_interval(interval: Interval) -> None:
    topic = Topic("BTCUSDT", interval)
    name = stream_name(topic)
    assert name == f"btcusdt@kline_{interval.code}"
    assert topic_from_stream(name) == topic


def test_minute_and_month_streams_differ() -> None:
    assert stream_name(Topic.of("btcusdt", "1m")) != stream_name(Topic.of("btcusdt", "1M"))


@pytest.mark.parametrize(
    "name", ["btcusdt", "btcusdt@trade", "@kline_1m", "btcusdt@kline_7m", "btcusdt@kline_1m@+08:00"]
)
def test_bad_stream_names_raise(name: str) -> None:
    with pytest.raises(ExchangeProtocolError):
        topic_from_stream(name)
