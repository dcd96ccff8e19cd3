"""Display formatting for thin clients (OrderFox): the strings a UI shows as is.

Owns four rules, all exact (every number goes through :class:`~decimal.Decimal`, floats
by their shortest repr, so ``0.1`` never prints as ``0.1000000000000000055``):

- **Volumes** in K/M/B with two decimals (seed 004: ``"12.59B"``, ``"456.78M"``):
  the unit is the largest of K (10**3), M (10**6), B (10**9) not above the magnitude;
  a value that rounds up to 1000.00 of its unit moves to the next unit (999 995 ->
  ``"1.00M"``, not ``"1000.00K"``); below 1000 plain (``"999.99"``). B is the top unit,
  so 1.5e12 is ``"1500.00B"``. Ties round half away from zero.
- **Prices and amounts** at a fixed number of decimals (the symbol's precision), no
  grouping, so the text parses back to the same number; quote totals (liquidation
  ``priceUsdt``) are whole numbers with comma separators (seed 004, "Number Formatting").
- **priceFormat** for TradingView charts, from the tick size.
- **Order-book rounding options**: bucket sizes ``tick * m * 10**k`` on the densest of
  the 1-2-5, 1-5 and decade ladders that fits :data:`MAX_ROUNDING_OPTIONS` entries between
  the tick and 1% of the price (:func:`rounding_options`), and a default of about one
  basis point of the price (:func:`default_rounding`).

Every ``format_*`` function accepts any int, float, Decimal or numeric text and never
raises for numbers: a non-finite value (no exchange sends one) shows as ``"n/a"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Final, Literal, TypedDict

Number = Decimal | int | float | str

NOT_AVAILABLE: Final = "n/a"
VOLUME_DECIMALS: Final = 2
MAX_ROUNDING_OPTIONS: Final = 8
# The coarsest bucket is 1% of the price: with the usual 20-50 visible levels that
# already spans 20-50% of the price, beyond which an aggregated book shows nothing useful.
ROUNDING_CAP_FRACTION: Final = Decimal("0.01")
# Default bucket: about one basis point, so 20 levels cover ~0.2% of the price near the
# spread: dense enough to read the top of the book, coarse enough to merge dust levels.
DEFAULT_ROUNDING_FRACTION: Final = Decimal("0.0001")

_VOLUME_UNITS: Final = ((9, "B"), (6, "M"), (3, "K"), (0, ""))
_THOUSAND: Final = Decimal(1000)
_LADDERS: Final = ((1, 2, 5), (1, 5), (1,))
# Wide enough for any real price or volume; _wide/_normalized widen it when not.
_CONTEXT: Final = Context(prec=60)


class PriceFormat(TypedDict):
    """TradingView's ``priceFormat`` series option, as the frontend passes it through."""

    type: Literal["price"]
    precision: int
    minMove: float


def to_decimal(value: Number) -> Decimal:
    """``value`` as a Decimal; a float by its shortest repr (``0.1`` -> ``Decimal("0.1")``).

    Raises:
        decimal.InvalidOperation: ``value`` is text that is not a number.
    """
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def format_fixed(value: Number, places: int, *, grouping: bool = False) -> str:
    """``value`` rounded half away from zero to ``places`` decimals, never ``-0.00``.

    ``format_fixed(1234.5, 2)`` -> ``"1234.50"``; with ``grouping`` -> ``"1,234.50"``.
    """
    number = to_decimal(value)
    if not number.is_finite():
        return NOT_AVAILABLE
    rounded = _round(number, max(places, 0))
    return format(rounded, ",f" if grouping else "f")


def format_price(value: Number, precision: int) -> str:
    """A price at the symbol's price precision: ``format_price(67012.5, 2)`` -> ``"67012.50"``."""
    return format_fixed(value, precision)


def format_amount(value: Number, precision: int) -> str:
    """A base-asset quantity at the symbol's amount precision (from its step size)."""
    return format_fixed(value, precision)


def format_quote_total(value: Number) -> str:
    """A quote-currency total as a whole number with separators: ``1234567.8`` ->
    ``"1,234,568"`` (seed 004: liquidation amounts in USDT)."""
    return format_fixed(value, 0, grouping=True)


def format_percent(value: Number, places: int = 2) -> str:
    """Signed percent: ``2.345`` -> ``"+2.35%"``, ``-1.2`` -> ``"-1.20%"``, 0 -> ``"0.00%"``."""
    number = to_decimal(value)
    if not number.is_finite():
        return NOT_AVAILABLE
    rounded = _round(number, max(places, 0))
    return f"{'+' if rounded > 0 else ''}{rounded:f}%"


def format_volume(value: Number) -> str:
    """A volume with a K/M/B unit and two decimals (rules in the module docstring).

    ``1234`` -> ``"1.23K"``, ``1_234_567`` -> ``"1.23M"``, ``2.5e9`` -> ``"2.50B"``,
    ``999.5`` -> ``"999.50"``, ``-1500`` -> ``"-1.50K"``.
    """
    number = to_decimal(value)
    if not number.is_finite():
        return NOT_AVAILABLE
    magnitude = number.copy_abs()
    unit = _volume_unit(magnitude)
    scaled = _round(magnitude.scaleb(-_VOLUME_UNITS[unit][0]), VOLUME_DECIMALS)
    if scaled >= _THOUSAND and unit > 0:
        unit -= 1  # e.g. 999.995K rounds to 1000.00K: say 1.00M instead
        scaled = _round(magnitude.scaleb(-_VOLUME_UNITS[unit][0]), VOLUME_DECIMALS)
    sign = "-" if number < 0 and not scaled.is_zero() else ""
    return f"{sign}{scaled:f}{_VOLUME_UNITS[unit][1]}"


def precision_from_step(step: Number) -> int:
    """Decimals a tick or step size allows: ``"0.01000000"`` -> 2, ``"1.00000000"`` -> 0,
    ``"0.25"`` -> 2, ``"10"`` -> 0.

    Raises:
        ValueError: ``step`` is not a positive finite number.
    """
    size = _positive(step, "step")
    exponent = _normalized(size).as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked above
    return max(0, -exponent)


def price_format(tick_size: Number) -> PriceFormat:
    """``price_format("0.01")`` -> ``{"type": "price", "precision": 2, "minMove": 0.01}``."""
    tick = _positive(tick_size, "tick size")
    return {"type": "price", "precision": precision_from_step(tick), "minMove": float(tick)}


def rounding_options(tick_size: Number, price: Number | None) -> tuple[Decimal, ...]:
    """Order-book bucket sizes, finest first; the first is always the tick itself.

    Candidates are ``tick * m * 10**k`` for ``m`` on a ladder, up to 1% of ``price``. The
    densest ladder of 1-2-5, 1-5 and 1 (decades) with at most :data:`MAX_ROUNDING_OPTIONS`
    candidates is used, so the selector has few entries that still span every decade
    from the tick to the cap. Every option is a multiple of the tick, so bucketing never
    needs more decimals than the price precision. Without a usable price only the tick
    is offered. Examples (hand-checked in the tests):

    - tick 0.01 at 67 000: ``0.01 0.1 1 10 100`` (1-2-5 would need 15, 1-5 ten);
    - tick 0.01 at 3 500: ``0.01 0.05 0.1 0.5 1 5 10``;
    - tick 0.0001 at 0.6: ``0.0001 0.0002 0.0005 0.001 0.002 0.005``.
    """
    tick = _normalized(_positive(tick_size, "tick size"))
    cap = _price_fraction(price, ROUNDING_CAP_FRACTION)
    if cap is None or cap < tick:
        return (tick,)
    most_ticks = int(_context(cap.adjusted() - tick.adjusted() + 2).divide_int(cap, tick))
    multiples: list[int] = []
    for mantissas in _LADDERS:
        multiples = _ladder(most_ticks, mantissas)
        if len(multiples) <= MAX_ROUNDING_OPTIONS:
            break
    # More than eight options only with more than eight decades between tick and cap:
    # keep the finest, so the tick (the unaggregated book) stays available.
    return tuple(_normalized(_CONTEXT.multiply(tick, n)) for n in multiples[:MAX_ROUNDING_OPTIONS])


def default_rounding(options: Sequence[Decimal], price: Number | None) -> Decimal:
    """The coarsest option not above one basis point of ``price``; else the finest option.

    With the options above: 1 at 67 000, 0.1 at 3 500, the tick 0.0001 at 0.6.

    Raises:
        ValueError: ``options`` is empty.
    """
    if not options:
        raise ValueError("no rounding options")
    target = _price_fraction(price, DEFAULT_ROUNDING_FRACTION)
    fitting = [option for option in options if target is not None and option <= target]
    return max(fitting) if fitting else min(options)


def _volume_unit(magnitude: Decimal) -> int:
    for index, (exponent, _) in enumerate(_VOLUME_UNITS):
        if magnitude >= Decimal(1).scaleb(exponent):
            return index
    return len(_VOLUME_UNITS) - 1


def _ladder(most: int, mantissas: tuple[int, ...]) -> list[int]:
    """Multiples ``m * 10**k`` (``m`` in ``mantissas``) up to ``most``, ascending."""
    found: list[int] = []
    scale = 1
    while True:
        for mantissa in mantissas:
            if mantissa * scale > most:
                return found
            found.append(mantissa * scale)
        scale *= 10


def _price_fraction(price: Number | None, fraction: Decimal) -> Decimal | None:
    if price is None:
        return None
    number = to_decimal(price)
    if not number.is_finite() or number <= 0:
        return None
    return _CONTEXT.multiply(number, fraction)


def _positive(value: Number, name: str) -> Decimal:
    number = to_decimal(value)
    if not number.is_finite() or number <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return number


def _round(value: Decimal, places: int) -> Decimal:
    rounded = value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP, _wide(value, places))
    return rounded.copy_abs() if rounded.is_zero() else rounded


def _wide(value: Decimal, places: int) -> Context:
    """A context in which quantizing ``value`` to ``places`` decimals is exact."""
    return _context(value.adjusted() + places + 3)


def _normalized(value: Decimal) -> Decimal:
    """``value`` without trailing zeros, exactly (however many digits it has)."""
    return value.normalize(_context(len(value.as_tuple().digits)))


def _context(digits: int) -> Context:
    return _CONTEXT if digits <= _CONTEXT.prec else Context(prec=digits)
