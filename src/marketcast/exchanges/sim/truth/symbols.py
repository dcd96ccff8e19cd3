"""The simulated exchange's listed symbols: filters, plausible prices and listing dates.

Prices are integers of ``tickSize`` and quantities integers of ``stepSize`` everywhere in
the simulator; :class:`SymbolSpec` holds the two exponents that turn them into decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from marketcast.errors import UnknownSymbol
from marketcast.exchanges.sim.truth.hashing import key_hash, unit


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One spot symbol. ``tickSize = 10**-price_decimals``, ``stepSize = 10**-qty_decimals``."""

    symbol: str
    base_asset: str
    price_decimals: int
    qty_decimals: int
    base_price: float
    listed_days_ago: int
    daily_volatility: float
    daily_trades: int
    daily_quote_volume: float
    quote_asset: str = "USDT"

    @property
    def tick_scale(self) -> int:
        """Ticks per unit of quote currency."""
        return int(10**self.price_decimals)

    @property
    def lot_scale(self) -> int:
        """Lots per unit of base asset."""
        return int(10**self.qty_decimals)

    @property
    def base_price_ticks(self) -> int:
        return max(1, round(self.base_price * self.tick_scale))

    @property
    def daily_volume_lots(self) -> int:
        """Typical daily base volume in lots, at the base price."""
        return max(1, round(self.daily_quote_volume / self.base_price * self.lot_scale))


def _spec(
    base: str, decimals: tuple[int, int], price: float, days: int, profile: tuple[float, int, float]
) -> SymbolSpec:
    """``profile`` is (daily volatility, daily trades, daily quote volume)."""
    vol, trades, quote_volume = profile
    return SymbolSpec(
        f"{base}USDT", base, decimals[0], decimals[1], price, days, vol, trades, quote_volume
    )


CATALOGUE: Final[tuple[SymbolSpec, ...]] = (
    _spec("BTC", (2, 5), 43_000.0, 2200, (0.030, 1_600_000, 1.4e9)),
    _spec("ETH", (2, 4), 2_300.0, 2200, (0.036, 1_000_000, 7.0e8)),
    _spec("BNB", (2, 3), 310.0, 2100, (0.032, 420_000, 1.2e8)),
    _spec("SOL", (2, 3), 95.0, 1400, (0.050, 800_000, 3.0e8)),
    _spec("XRP", (4, 1), 0.55, 2000, (0.040, 500_000, 1.6e8)),
    _spec("DOGE", (5, 0), 0.085, 1800, (0.050, 520_000, 1.3e8)),
    _spec("ADA", (4, 1), 0.50, 1900, (0.045, 420_000, 8.0e7)),
    _spec("AVAX", (2, 2), 35.0, 1300, (0.055, 400_000, 8.0e7)),
    _spec("LINK", (2, 2), 14.5, 1900, (0.050, 380_000, 6.0e7)),
    _spec("DOT", (3, 2), 7.2, 1400, (0.050, 360_000, 4.0e7)),
    _spec("LTC", (2, 3), 70.0, 2200, (0.040, 380_000, 4.5e7)),
    _spec("TRX", (5, 1), 0.11, 2000, (0.030, 360_000, 3.0e7)),
    _spec("MATIC", (4, 1), 0.80, 1700, (0.050, 380_000, 4.0e7)),
    _spec("ATOM", (3, 2), 9.5, 1600, (0.050, 360_000, 2.5e7)),
    _spec("NEAR", (3, 1), 3.2, 1200, (0.060, 380_000, 4.0e7)),
    _spec("UNI", (3, 2), 6.5, 1300, (0.050, 350_000, 2.0e7)),
    _spec("ETC", (2, 2), 25.0, 2100, (0.045, 350_000, 2.5e7)),
    _spec("ARB", (4, 1), 1.10, 300, (0.060, 400_000, 5.0e7)),
    _spec("SUI", (4, 1), 0.90, 90, (0.070, 420_000, 6.0e7)),
    _spec("TIA", (4, 2), 11.0, 30, (0.080, 380_000, 5.0e7)),
)
"""Every symbol the catalogue knows; the last few were listed recently on purpose."""

DEFAULT_SYMBOLS: Final[tuple[str, ...]] = tuple(s.symbol for s in CATALOGUE[:10])
"""The ten liquid symbols marketcast configures by default."""

LISTED_SYMBOLS: Final[tuple[str, ...]] = tuple(s.symbol for s in CATALOGUE)
"""What the simulator lists unless configured otherwise (defaults plus on-demand ones)."""

_BY_SYMBOL: Final[dict[str, SymbolSpec]] = {s.symbol: s for s in CATALOGUE}


def spec_for(symbol: str) -> SymbolSpec:
    """The catalogue entry, or a made-up but stable spec for any other ``<BASE>USDT`` name.

    Raises:
        UnknownSymbol: ``symbol`` is not an upper-case ``...USDT`` name.
    """
    known = _BY_SYMBOL.get(symbol)
    if known is not None:
        return known
    base = symbol.removesuffix("USDT")
    if not base or base == symbol or not base.isalnum() or not base.isupper():
        raise UnknownSymbol(symbol)
    draw = key_hash("synthetic-symbol", symbol)
    price = round(0.05 + 60.0 * unit(draw) ** 3, 4)
    return _spec(base, (4, 2), price, 1200, (0.05, 360_000, 2.0e7))
