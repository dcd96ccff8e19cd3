"""Native /ws client messages and REST query parameters: valid forms and clear errors."""

from __future__ import annotations

import pytest

from marketcast.api.params import parse_hours, parse_limit, parse_time
from marketcast.api.protocol import (
    Ping,
    ProtocolError,
    Subscribe,
    Unsubscribe,
    parse_client_message,
)
from marketcast.domain.intervals import Interval
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
    ],
)
def test_malformed_messages_get_a_coded_error(raw: str, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_message(raw)
    assert caught.value.code == code


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
