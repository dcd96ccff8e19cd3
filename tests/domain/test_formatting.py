"""Display formatting: K/M/B volumes, exact prices, priceFormat and the rounding ladder.

Expected values are worked by hand (the reasoning is next to each vector), not produced
by the code under test.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketcast.domain.formatting import (
    MAX_ROUNDING_OPTIONS,
    NOT_AVAILABLE,
    default_rounding,
    format_amount,
    format_fixed,
    format_percent,
    format_price,
    format_quote_total,
    format_volume,
    precision_from_step,
    price_format,
    rounding_options,
)

D = Decimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0.00"),
        (0.004, "0.00"),
        (-0.004, "0.00"),  # never "-0.00"
        (999.994, "999.99"),
        (999.995, "1.00K"),  # 1000.00 plain would be a fifth digit: next unit
        (1234, "1.23K"),
        (1235, "1.24K"),  # half away from zero, not banker's rounding (1.24 either way)
        (1245, "1.25K"),  # banker's rounding would give 1.24K
        (999_994, "999.99K"),
        (999_995, "1.00M"),  # not "1000.00K"
        (1_234_567, "1.23M"),
        (456_780_000, "456.78M"),  # seed 004's example
        (2.5e9, "2.50B"),
        (12_590_000_000, "12.59B"),  # seed 004's example
        (1.5e12, "1500.00B"),  # B is the top unit (seed: K/M/B)
        (-1500, "-1.50K"),  # delta volumes can be negative
        ("15.30000000", "15.30"),
        (float("nan"), NOT_AVAILABLE),
        (float("inf"), NOT_AVAILABLE),
    ],
)
def test_format_volume_vectors(value: float | int | str, expected: str) -> None:
    assert format_volume(value) == expected


@pytest.mark.parametrize(
    ("value", "precision", "expected"),
    [
        (67012.5, 2, "67012.50"),
        (0.1 + 0.2, 2, "0.30"),  # the float 0.30000000000000004 prints as 0.30
        (1.005, 2, "1.01"),  # float rounding would give 1.00 (1.005 is 1.00499... as binary)
        ("0.15432000", 5, "0.15432"),
        (D("3500"), 0, "3500"),
        (2.675, 2, "2.68"),  # round(2.675, 2) == 2.67 in Python: binary artefact
        (-0.001, 2, "0.00"),
    ],
)
def test_format_price_is_exact(value: float | str | Decimal, precision: int, expected: str) -> None:
    assert format_price(value, precision) == expected


def test_amount_quote_total_percent_and_grouping() -> None:
    assert format_amount("0.00001000", 5) == "0.00001"
    assert format_amount(12.3, 3) == "12.300"
    assert format_quote_total(1234567.8) == "1,234,568"  # seed: whole USDT, comma groups
    assert format_quote_total(999.49) == "999"
    assert format_fixed(1234567.005, 2, grouping=True) == "1,234,567.01"
    assert format_percent(2.345) == "+2.35%"
    assert format_percent("-1.2") == "-1.20%"
    assert format_percent(-0.001) == "0.00%"
    assert format_price(float("nan"), 2) == NOT_AVAILABLE


@pytest.mark.parametrize(
    ("step", "expected"),
    [("0.01000000", 2), ("1.00000000", 0), ("0.00001000", 5), ("0.25", 2), ("10", 0), ("1E-8", 8)],
)
def test_precision_from_step(step: str, expected: int) -> None:
    assert precision_from_step(step) == expected


@pytest.mark.parametrize("bad", ["0", "0.00000000", "-0.01", "nan"])
def test_precision_from_step_rejects_non_positive(bad: str) -> None:
    with pytest.raises(ValueError, match="positive"):
        precision_from_step(bad)


def test_price_format_for_tradingview() -> None:
    assert price_format("0.01000000") == {"type": "price", "precision": 2, "minMove": 0.01}
    assert price_format("0.00001000") == {"type": "price", "precision": 5, "minMove": 0.00001}
    assert price_format("0.10") == {"type": "price", "precision": 1, "minMove": 0.1}


# Worked rounding vectors. Cap = price / 100, ladder multipliers m * 10**k of the tick.
@pytest.mark.parametrize(
    ("tick", "price", "options", "default"),
    [
        # BTCUSDT: cap 670 = 67 000 ticks. 1-2-5 up to 50 000 ticks: 15 options; 1-5: 10;
        # decades 1, 10, 100, 1 000, 10 000 ticks: 5. 1 bp = 6.7 -> coarsest <= 6.7 is 1.
        ("0.01", "67000", ["0.01", "0.1", "1", "10", "100"], "1"),
        # ETHUSDT: cap 35 = 3 500 ticks. 1-2-5: 11 (up to 2 000 ticks); 1-5: 1, 5, 10, 50,
        # 100, 500, 1 000 ticks = 7. 1 bp = 0.35 -> 0.1.
        ("0.01", "3500", ["0.01", "0.05", "0.1", "0.5", "1", "5", "10"], "0.1"),
        # DOGEUSDT: cap 0.0015 = 150 ticks. 1-2-5: 1, 2, 5, 10, 20, 50, 100 ticks = 7.
        # 1 bp = 0.000015 -> 0.00001.
        (
            "0.00001",
            "0.15",
            ["0.00001", "0.00002", "0.00005", "0.0001", "0.0002", "0.0005", "0.001"],
            "0.00001",
        ),
        # XRPUSDT: cap 0.006 = 60 ticks. 1-2-5: 1, 2, 5, 10, 20, 50 ticks = 6.
        # 1 bp = 0.00006 is below the tick -> the tick.
        ("0.0001", "0.6", ["0.0001", "0.0002", "0.0005", "0.001", "0.002", "0.005"], "0.0001"),
        # A tick that is not a power of ten: cap 10 = 40 ticks -> 1-2-5: 1, 2, 5, 10, 20 ticks.
        ("0.25", "1000", ["0.25", "0.5", "1.25", "2.5", "5"], "0.25"),
    ],
)
def test_rounding_options_worked_vectors(
    tick: str, price: str, options: list[str], default: str
) -> None:
    found = rounding_options(tick, price)
    assert found == tuple(D(o) for o in options)
    assert default_rounding(found, price) == D(default)


def test_rounding_without_a_price_offers_only_the_tick() -> None:
    assert rounding_options("0.01", None) == (D("0.01"),)
    assert rounding_options("0.01", 0) == (D("0.01"),)
    assert default_rounding((D("0.01"),), None) == D("0.01")
    # A price below 100 ticks: the cap is under the tick, the tick still stands.
    assert rounding_options("0.01", "0.5") == (D("0.01"),)


def test_more_than_eight_decades_keeps_the_finest_eight() -> None:
    # tick 1e-8 at 100 000: cap 1 000 = 1e11 ticks, 12 decades; the tick stays first.
    found = rounding_options("0.00000001", 100_000)
    assert found == tuple(D(1).scaleb(e) for e in range(-8, 0))


# -- properties ----------------------------------------------------------------------
finite = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.decimals(allow_nan=False, allow_infinity=False),
)
ticks = st.builds(
    lambda mantissa, exponent: D(mantissa).scaleb(exponent),
    st.sampled_from([1, 2, 5, 25]),
    st.integers(min_value=-8, max_value=2),
)
prices = st.decimals(min_value=D("0.00000001"), max_value=D("10000000"), places=8)


@given(finite, st.integers(min_value=0, max_value=12))
def test_fixed_formatting_never_raises_and_round_trips(value: object, places: int) -> None:
    assert isinstance(value, float | int | Decimal)
    text = format_fixed(value, places)
    decimals = text.partition(".")[2]
    assert len(decimals) == places
    assert not text.startswith("-0") or D(text) != 0
    # Parsing the text back gives the value rounded to ``places`` (within half a unit).
    assert (
        abs(D(text) - D(repr(value) if isinstance(value, float) else value))
        <= D(1).scaleb(-places) / 2
    )


@given(finite)
def test_volume_formatting_never_raises_and_has_two_decimals(value: object) -> None:
    assert isinstance(value, float | int | Decimal)
    text = format_volume(value)
    number = text.rstrip("KMB").lstrip("-")
    whole, _, decimals = number.partition(".")
    assert len(decimals) == 2
    assert text.endswith("B") or len(whole) <= 3  # below the top unit, never 1000.00X


@given(ticks, prices)
def test_rounding_options_are_increasing_tick_multiples(tick: Decimal, price: Decimal) -> None:
    options = rounding_options(tick, price)
    assert options[0] == tick
    assert 1 <= len(options) <= MAX_ROUNDING_OPTIONS
    assert all(a < b for a, b in itertools.pairwise(options))
    assert all((option / tick) == (option / tick).to_integral_value() for option in options)
    assert len(options) == 1 or options[-1] <= price / 100
    assert default_rounding(options, price) in options
