"""Technical indicators by name: what a client may ask for, parsed into specs (pure).

Names (case-insensitive, ``N`` in 2..1000): ``ema<N>``, ``sma<N>``, ``rsi<N>``,
``bb<N>`` (Bollinger bands, N candles, 2 population standard deviations), ``atr<N>``,
``macd`` (12, 26, 9) and ``vwap``. Each indicator's value for a candle is a tuple with one
entry per :attr:`IndicatorSpec.fields`, ``None`` while it warms up; the values are
computed by :mod:`marketcast.domain.incremental`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from marketcast.errors import InvalidRequest

Value = tuple[float | None, ...]
"""One indicator's value at one candle: an entry per field of its spec."""

MIN_PERIOD: Final = 2
MAX_PERIOD: Final = 1000
MAX_NAMES: Final = 16
VALID_FORMS: Final = ("ema<N>", "sma<N>", "rsi<N>", "bb<N>", "atr<N>", "macd", "vwap")


class Kind(enum.Enum):
    EMA = "ema"
    SMA = "sma"
    RSI = "rsi"
    BB = "bb"
    ATR = "atr"
    MACD = "macd"
    VWAP = "vwap"


_FIELDS: Final[dict[Kind, tuple[str, ...]]] = {
    Kind.MACD: ("macd", "signal", "histogram"),
    Kind.BB: ("upper", "middle", "lower"),
}
_NAME: Final = re.compile(r"(ema|sma|rsi|bb|atr)([1-9][0-9]{0,5})|(macd|vwap)")


class InvalidIndicator(InvalidRequest):
    code = "invalid_indicator"

    def __init__(self, given: str, problem: str = "unknown indicator") -> None:
        self.given = given
        self.valid = VALID_FORMS
        super().__init__(
            f"{problem} {given!r}; valid names: {', '.join(VALID_FORMS)} "
            f"(N in {MIN_PERIOD}..{MAX_PERIOD}), comma-separated, at most {MAX_NAMES}"
        )


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    """One indicator with its parameters, e.g. ``IndicatorSpec(Kind.EMA, 20)``."""

    kind: Kind
    period: int = 0

    @property
    def name(self) -> str:
        return f"{self.kind.value}{self.period or ''}"

    @property
    def fields(self) -> tuple[str, ...]:
        return _FIELDS.get(self.kind, ("value",))

    def __str__(self) -> str:
        return self.name


def parse_indicator(given: str) -> IndicatorSpec:
    """``"EMA20"`` → ``IndicatorSpec(Kind.EMA, 20)``; raise :class:`InvalidIndicator`."""
    match = _NAME.fullmatch(given.strip().lower())
    if match is None:
        raise InvalidIndicator(given)
    kind, digits, bare = match.groups()
    if bare is not None:
        return IndicatorSpec(Kind(bare))
    period = int(digits)
    if not MIN_PERIOD <= period <= MAX_PERIOD:
        raise InvalidIndicator(given, "period out of range in")
    return IndicatorSpec(Kind(kind), period)


def parse_indicators(given: str | Sequence[str]) -> tuple[IndicatorSpec, ...]:
    """A comma-separated string (or a list) of names; duplicates count once, order kept."""
    names = given.split(",") if isinstance(given, str) else list(given)
    specs = tuple(dict.fromkeys(parse_indicator(n) for n in names if n.strip()))
    if not specs:
        raise InvalidIndicator(str(given), "no indicator named in")
    if len(specs) > MAX_NAMES:
        raise InvalidIndicator(str(given), "too many indicators in")
    return specs
