"""The top of the tape: one bar per UTC day, each an O(1) function of (seed, symbol, day).

The price at each day boundary is ``base * exp(x(day))`` where ``x`` sums slow sines (market
cycles) and octaves of hashed value noise whose amplitude grows with the square root of
their period: a random walk over days to months that still reverts over years, so a
three-year history stays plausible and never wanders to zero. A day opens at its own
boundary price and closes at the next one's, so days chain like real daily candles.

Trade counts are defined the other way round from usual: :meth:`DayModel.trades_before`
is a closed-form cumulative count (a steady rate plus bounded smooth noise) and a day's
count is the difference of two of its values. Global trade ids, which are exact counts
since listing, therefore cost O(1) for any day, with no prefix sums to build.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Final

from marketcast.domain.intervals import DAY_MS
from marketcast.exchanges.sim.truth.bars import Bar
from marketcast.exchanges.sim.truth.hashing import key_hash, mix64, signed_unit, unit
from marketcast.exchanges.sim.truth.split import MIN_TRADES_PER_SECOND
from marketcast.exchanges.sim.truth.symbols import SymbolSpec

MIN_DAY_TRADES: Final = MIN_TRADES_PER_SECOND * DAY_MS // 1000
_PRICE_OCTAVES: Final = (1, 4, 16, 64, 256)
_ACTIVITY_OCTAVES: Final = (1, 7, 60)
_CYCLES: Final = ((1400.0, 0.25), (180.0, 0.08), (45.0, 0.03))
_KEY_COUNT: Final = 12


@dataclass(frozen=True, slots=True)
class DayModel:
    """Daily bars of one symbol under one seed.

    ``trend`` adds a steady drift per day to the log price, pivoting on ``trend_origin_day``
    (whose price it leaves as is): a seeded trending scenario. Zero keeps the plain tape.
    """

    spec: SymbolSpec
    seed: int
    trend: float = 0.0
    trend_origin_day: int = 0
    _keys: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _phases: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        root = key_hash(self.seed, self.spec.symbol, "day")
        keys = tuple(key_hash(root, "key", i) for i in range(_KEY_COUNT))
        phases = tuple(unit(key_hash(root, "phase", i)) * math.tau for i in range(len(_CYCLES)))
        object.__setattr__(self, "_keys", keys)
        object.__setattr__(self, "_phases", phases)

    def boundary_price(self, day: int) -> int:
        """Price in ticks at 00:00 UTC of ``day`` (days since the epoch)."""
        sigma = self.spec.daily_volatility
        x = 0.0
        for i, period in enumerate(_PRICE_OCTAVES):
            x += sigma * math.sqrt(period) * self._value_noise(i, period, day)
        for (cycle, amplitude), phase in zip(_CYCLES, self._phases, strict=True):
            x += amplitude * math.sin(math.tau * day / cycle + phase)
        if self.trend:
            x += self.trend * (day - self.trend_origin_day)
        return max(100, round(self.spec.base_price_ticks * math.exp(x)))

    def trades_before(self, day: int) -> int:
        """Trades from the epoch to 00:00 UTC of ``day``: a steady rate plus bounded noise.

        Each activity octave's noise changes by less than ``swing / octaves`` per day, so
        a day's count stays strictly between ``MIN_DAY_TRADES`` and the steady rate plus
        ``swing``: busy and quiet stretches of a day, a week and a quarter.
        """
        swing = self._swing()
        noise = 0.0
        for i, period in enumerate(_ACTIVITY_OCTAVES, start=len(_PRICE_OCTAVES)):
            amplitude = swing * period / (2 * len(_ACTIVITY_OCTAVES))
            noise += amplitude * self._value_noise(i, period, day)
        return (MIN_DAY_TRADES + swing + 1) * day + math.floor(noise)

    def bar(self, day: int, prices: tuple[int, int], trades: int, first_id: int) -> Bar:
        """The bar of ``day`` given its (open, close) boundary prices, trade count and
        first trade id (all derived from this model; passed in so callers can memoise)."""
        open_, close = prices
        swing = open_ * self.spec.daily_volatility
        up = max(1, round(swing * (0.15 + 0.5 * unit(mix64(self._keys[8] + day)))))
        down = max(1, round(swing * (0.15 + 0.5 * unit(mix64(self._keys[9] + day)))))
        high, low = max(open_, close) + up, max(1, min(open_, close) - down)
        volume = self._volume(day, open_, high - low, trades)
        return Bar(day * DAY_MS, open_, high, low, close, volume, trades, first_id)

    def _swing(self) -> int:
        return max(1, self.spec.daily_trades - MIN_DAY_TRADES)

    def _volume(self, day: int, open_: int, range_: int, trades: int) -> int:
        """Base volume in lots: follows activity, more on volatile days, fewer base units
        when the price is high."""
        activity = trades / (MIN_DAY_TRADES + self._swing())
        wobble = 0.6 + 0.8 * unit(mix64(self._keys[10] + day))
        excitement = 0.5 + range_ / open_ / (2.0 * self.spec.daily_volatility)
        price_ratio = self.spec.base_price_ticks / open_
        lots = self.spec.daily_volume_lots * activity * wobble * excitement * price_ratio
        return max(2 * trades, round(lots))

    def _value_noise(self, key_index: int, period: int, day: int) -> float:
        """Hashed knots every ``period`` days, linearly interpolated: smooth, in [-1, 1)."""
        knot, offset = divmod(day, period)
        key = self._keys[key_index]
        left, right = _knot(key + knot), _knot(key + knot + 1)
        return left + (right - left) * offset / period


@functools.lru_cache(maxsize=1 << 16)
def _knot(position: int) -> float:
    # Neighbouring days share knots, so memoising the hash halves the cost of a history.
    return signed_unit(mix64(position))


class DayBook:
    """One symbol's daily bars since listing, memoised on demand.

    The first trade of the listing day has id 0, so a day's first id is exactly the number
    of trades before it since listing, as with Binance's ids.
    """

    def __init__(self, model: DayModel, listing_day: int) -> None:
        self.model = model
        self.listing_day = listing_day
        self._bars: dict[int, Bar] = {}
        self._prices: dict[int, int] = {}
        self._cumulative: dict[int, int] = {}
        self._before_listing = model.trades_before(listing_day)

    def bar(self, day: int) -> Bar:
        found = self._bars.get(day)
        if found is None:
            if day < self.listing_day:
                raise ValueError(f"{self.model.spec.symbol} is not listed on day {day}")
            before, after = self._trades_before(day), self._trades_before(day + 1)
            prices = (self._price(day), self._price(day + 1))
            found = self.model.bar(day, prices, after - before, before - self._before_listing)
            self._bars[day] = found
        return found

    def _trades_before(self, day: int) -> int:
        found = self._cumulative.get(day)
        if found is None:
            found = self._cumulative[day] = self.model.trades_before(day)
        return found

    def _price(self, day: int) -> int:
        found = self._prices.get(day)
        if found is None:
            found = self._prices[day] = self.model.boundary_price(day)
        return found
