"""Query numbers are parsed strictly: plain ASCII digits, no sign, no ``_`` or spaces."""

from __future__ import annotations

import pytest

from marketcast.api.orderfox.book import parse_limit_value
from marketcast.api.params import natural, parse_hours, parse_limit, parse_time
from marketcast.errors import InvalidLimit, InvalidRequest

LOOSE = ["1_0", "+5", " 7", "7 ", "-5", "1e3", "٣", "0x10", ""]


@pytest.mark.parametrize("raw", LOOSE)
def test_natural_takes_only_plain_ascii_digits(raw: str) -> None:
    assert natural(raw) is None


def test_natural_reads_plain_digits() -> None:
    assert natural("0") == 0
    assert natural("0042") == 42


@pytest.mark.parametrize("raw", ["1_0", "+5", " 7", "-5", "1.0"])
def test_limits_written_loosely_are_invalid(raw: str) -> None:
    with pytest.raises(InvalidLimit):
        parse_limit(raw, default=5, maximum=100)
    with pytest.raises(InvalidLimit):
        parse_limit_value(raw, 100)


def test_a_plain_limit_is_read() -> None:
    assert parse_limit("10", default=5, maximum=100) == 10
    assert parse_limit_value("10", 100) == 10


@pytest.mark.parametrize("raw", ["-5", "-1714521600", "1_714_521_600", "+1714521600"])
def test_negative_or_loosely_written_epochs_are_invalid(raw: str) -> None:
    with pytest.raises(InvalidRequest, match="end_time"):
        parse_time(raw, "end_time")


def test_epochs_in_seconds_or_ms_are_read_as_ms() -> None:
    assert parse_time("1714521600", "since") == 1_714_521_600_000
    assert parse_time("1714521600000", "since") == 1_714_521_600_000


@pytest.mark.parametrize("raw", ["1_2", "-3", "+3"])
def test_hours_written_loosely_are_invalid(raw: str) -> None:
    with pytest.raises(InvalidRequest, match="hours"):
        parse_hours(raw, default=12, maximum=48)
