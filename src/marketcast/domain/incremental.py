"""Indicators computed incrementally, one closed candle at a time (pure).

:func:`build` gives the running state of one
:class:`~marketcast.domain.indicators.IndicatorSpec`.

The arithmetic is talipp's (a maintained library of incremental indicators): every
:meth:`Incremental.push` costs O(1) in the length of the series (Bollinger's deviation is
recomputed over its own window, O(N)). Two are assembled from talipp parts so the values
follow TA-Lib's conventions, the usual reference:

- MACD: TA-Lib seeds the fast EMA on the 12 closes that end where the slow EMA's first
  26 do, so both lines start on the same candle; talipp's ``MACD`` starts the fast EMA at
  the first close, which differs by up to a third at first and takes a hundred-odd
  candles to converge. Two talipp EMAs fed accordingly reproduce TA-Lib.
- ATR: TA-Lib's first true range needs the previous close, so the first candle has none
  and the first ATR is the mean of the next N; talipp's ``ATR`` counts the first candle's
  high-low. Wilder's true range fed into talipp's ``SMMA`` (Wilder smoothing) matches.

:meth:`Incremental.peek` gives the value a forming candle would have without changing any
state: talipp's own ``add`` followed by ``remove``, which pops what ``add`` appended (no
copy, O(1)); the tests check that pushing after any number of peeks gives the same values.

VWAP's session is the UTC day for intervals shorter than a day (reset at 00:00 UTC, as
chart platforms do); for daily and longer intervals it is the whole series consumed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

from talipp.indicators import BB, EMA, RSI, SMA, SMMA, VWAP  # type: ignore[import-untyped]
from talipp.ohlcv import OHLCV  # type: ignore[import-untyped]

from marketcast.domain.candles import Candle
from marketcast.domain.indicators import IndicatorSpec, Kind, Value
from marketcast.domain.intervals import DAY_MS, Interval

MACD_PERIODS: Final = (12, 26, 9)
BB_DEVIATIONS: Final = 2.0
# talipp keeps every input; trimming in chunks keeps memory bounded at O(1) amortised cost.
_TRIM_SLACK: Final = 256


class Incremental(Protocol):
    """One indicator's running state over a series of closed candles."""

    spec: IndicatorSpec

    def push(self, candle: Candle) -> Value:
        """Consume the next closed candle; return the indicator's value at it."""
        ...

    def peek(self, candle: Candle) -> Value:
        """The value if ``candle`` came next, leaving the state unchanged."""
        ...


def build(spec: IndicatorSpec, interval: Interval | None = None) -> Incremental:
    """A fresh running state for ``spec``; ``interval`` sets VWAP's session (see module)."""
    if spec.kind is Kind.MACD:
        return _Macd(spec, *MACD_PERIODS)
    if spec.kind is Kind.ATR:
        return _Atr(spec)
    if spec.kind is Kind.VWAP:
        return _Vwap(spec, _session_key(interval))
    if spec.kind is Kind.BB:
        return _Bands(spec, BB(spec.period, BB_DEVIATIONS))
    factory = {Kind.EMA: EMA, Kind.SMA: SMA, Kind.RSI: RSI}[spec.kind]
    return _OnClose(spec, factory(spec.period))


def compute(
    spec: IndicatorSpec, candles: Sequence[Candle], interval: Interval | None = None
) -> list[Value]:
    """The values at every candle of ``candles`` (all closed), oldest first."""
    running = build(spec, interval)
    return [running.push(c) for c in candles]


def true_range(candle: Candle, previous_close: float) -> float:
    """Wilder's true range: the candle's range extended to the previous close."""
    return max(
        candle.high - candle.low,
        abs(candle.high - previous_close),
        abs(candle.low - previous_close),
    )


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _trim(indicator: Any, keep: int) -> None:
    """Drop talipp's oldest inputs, keeping more than a seeding window (talipp re-seeds
    when exactly ``period`` inputs remain)."""
    excess = len(indicator.input_values) - keep
    if excess > _TRIM_SLACK:
        indicator.purge_oldest(excess)


def _ohlcv(candle: Candle) -> Any:
    return OHLCV(candle.open, candle.high, candle.low, candle.close, candle.volume)


class _OnClose:
    """EMA, SMA and RSI: a talipp indicator of closes."""

    def __init__(self, spec: IndicatorSpec, indicator: Any) -> None:
        self.spec = spec
        self._indicator = indicator

    def push(self, candle: Candle) -> Value:
        self._indicator.add(candle.close)
        value = _number(self._indicator[-1])
        _trim(self._indicator, self.spec.period + 2)
        return (value,)

    def peek(self, candle: Candle) -> Value:
        self._indicator.add(candle.close)
        try:
            return (_number(self._indicator[-1]),)
        finally:
            self._indicator.remove()


class _Bands(_OnClose):
    def push(self, candle: Candle) -> Value:
        self._indicator.add(candle.close)
        value = self._read()
        _trim(self._indicator, self.spec.period + 2)
        return value

    def peek(self, candle: Candle) -> Value:
        self._indicator.add(candle.close)
        try:
            return self._read()
        finally:
            self._indicator.remove()

    def _read(self) -> Value:
        bands = self._indicator[-1]
        if bands is None:
            return (None, None, None)
        return (float(bands.ub), float(bands.cb), float(bands.lb))


class _Macd:
    """MACD line, signal and histogram from three talipp EMAs, aligned as TA-Lib does."""

    def __init__(self, spec: IndicatorSpec, fast: int, slow: int, signal: int) -> None:
        self.spec = spec
        self._fast, self._slow, self._signal = EMA(fast), EMA(slow), EMA(signal)
        self._fast_from = slow - fast  # closes the fast EMA skips (see module docstring)
        self._seen = 0
        self._keep = (fast + 2, slow + 2, signal + 2)

    def push(self, candle: Candle) -> Value:
        value = self._add(candle.close)
        self._seen += 1
        for indicator, keep in zip((self._fast, self._slow, self._signal), self._keep, strict=True):
            _trim(indicator, keep)
        return value

    def peek(self, candle: Candle) -> Value:
        value = self._add(candle.close)
        self._slow.remove()
        if self._seen >= self._fast_from:
            self._fast.remove()
        if value[0] is not None:
            self._signal.remove()
        return value

    def _add(self, close: float) -> Value:
        self._slow.add(close)
        if self._seen >= self._fast_from:
            self._fast.add(close)
        fast = _number(self._fast[-1]) if len(self._fast) else None
        slow = _number(self._slow[-1])
        if fast is None or slow is None:
            return (None, None, None)
        macd = fast - slow
        self._signal.add(macd)
        signal = _number(self._signal[-1])
        return (macd, signal, None if signal is None else macd - signal)


class _Atr:
    """Wilder's ATR: true ranges from the second candle on, smoothed by talipp's SMMA."""

    def __init__(self, spec: IndicatorSpec) -> None:
        self.spec = spec
        self._smoothed = SMMA(spec.period)
        self._previous_close: float | None = None

    def push(self, candle: Candle) -> Value:
        value: float | None = None
        if self._previous_close is not None:
            self._smoothed.add(true_range(candle, self._previous_close))
            value = _number(self._smoothed[-1])
            _trim(self._smoothed, self.spec.period + 2)
        self._previous_close = candle.close
        return (value,)

    def peek(self, candle: Candle) -> Value:
        if self._previous_close is None:
            return (None,)
        self._smoothed.add(true_range(candle, self._previous_close))
        try:
            return (_number(self._smoothed[-1]),)
        finally:
            self._smoothed.remove()


SessionKey = Callable[[int], int]


def _session_key(interval: Interval | None) -> SessionKey:
    fixed = interval.fixed_ms if interval is not None else None
    if fixed is not None and fixed < DAY_MS:
        return lambda open_time: open_time // DAY_MS
    return lambda open_time: 0


class _Vwap:
    """talipp's cumulative VWAP (typical price), restarted at each session."""

    def __init__(self, spec: IndicatorSpec, session_of: SessionKey) -> None:
        self.spec = spec
        self._session_of = session_of
        self._session: int | None = None
        self._vwap = VWAP()

    def push(self, candle: Candle) -> Value:
        session = self._session_of(candle.open_time)
        if session != self._session:
            self._session, self._vwap = session, VWAP()
        self._vwap.add(_ohlcv(candle))
        value = _number(self._vwap[-1])
        _trim(self._vwap, 2)
        return (value,)

    def peek(self, candle: Candle) -> Value:
        if self._session_of(candle.open_time) != self._session:
            fresh = VWAP()
            fresh.add(_ohlcv(candle))
            return (_number(fresh[-1]),)
        self._vwap.add(_ohlcv(candle))
        try:
            return (_number(self._vwap[-1]),)
        finally:
            self._vwap.remove()
