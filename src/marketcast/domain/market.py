"""Symbol metadata for thin clients (OrderFox's symbol service): one listing plus its
24-hour ticker, turned into the display-ready object the OrderFox symbol selector and
sidebar read.

Pure: the symbol service (:mod:`marketcast.hub.symbols.service`) decides when tickers are
fetched; this module only combines a listing and a ticker with the rules of
:mod:`marketcast.domain.formatting`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from marketcast.domain.formatting import (
    PriceFormat,
    default_rounding,
    format_percent,
    format_price,
    format_volume,
    precision_from_step,
    price_format,
    rounding_options,
)


@dataclass(frozen=True, slots=True)
class Ticker24h:
    """Rolling 24-hour statistics of one symbol; ``close_time`` is epoch ms.

    ``volume`` is in the base asset, ``quote_volume`` in the quote asset (USDT for
    BTCUSDT): the quote volume is what "24h volume" means in a symbol list, since it
    compares across symbols.
    """

    symbol: str
    last_price: Decimal
    price_change_percent: Decimal
    volume: Decimal
    quote_volume: Decimal
    close_time: int


class Listing(Protocol):
    """What a listing needs to offer (the Binance adapter's ``SymbolInfo`` does)."""

    @property
    def symbol(self) -> str: ...
    @property
    def base_asset(self) -> str: ...
    @property
    def quote_asset(self) -> str: ...
    @property
    def tick_size(self) -> str: ...
    @property
    def step_size(self) -> str: ...


@dataclass(frozen=True, slots=True)
class SymbolMeta:
    """Everything a UI shows about one symbol; JSON via :meth:`to_camel_json`.

    ``exchange_id`` and ``symbol`` are both the exchange id (``BTCUSDT``): OrderFox's contract has
    every payload echo the id, and clients build their URLs from either field.
    ``ui_name`` (``BTC/USDT``) is for display only. Ticker fields are ``None`` (and
    the volume 0) for a listing the exchange sent no ticker for.
    """

    exchange_id: str
    symbol: str
    base_asset: str
    quote_asset: str
    ui_name: str
    tick_size: Decimal
    step_size: Decimal
    price_precision: int
    amount_precision: int
    volume_24h: Decimal
    volume_24h_formatted: str
    rounding_options: tuple[Decimal, ...]
    default_rounding: Decimal
    last_price: Decimal | None
    price_change_percent_24h: Decimal | None

    @property
    def price_format(self) -> PriceFormat:
        return price_format(self.tick_size)

    def to_camel_json(self) -> dict[str, Any]:
        """OrderFox's symbol fields in camelCase (plus the sidebar's price and 24 h change)."""
        return {
            "id": self.exchange_id,
            "symbol": self.symbol,
            "baseAsset": self.base_asset,
            "quoteAsset": self.quote_asset,
            "uiName": self.ui_name,
            "volume24h": float(self.volume_24h),
            "volume24hFormatted": self.volume_24h_formatted,
            "pricePrecision": self.price_precision,
            "amountPrecision": self.amount_precision,
            "priceFormat": dict(self.price_format),
            "roundingOptions": [float(option) for option in self.rounding_options],
            "defaultRounding": float(self.default_rounding),
            "tickSize": format(self.tick_size, "f"),
            "stepSize": format(self.step_size, "f"),
        } | self._sidebar_json()

    def _sidebar_json(self) -> dict[str, Any]:
        last, change = self.last_price, self.price_change_percent_24h
        last_text = None if last is None else format_price(last, self.price_precision)
        return {
            "lastPrice": None if last is None else float(last),
            "lastPriceFormatted": last_text,
            "priceChangePercent24h": None if change is None else float(change),
            "priceChangePercent24hFormatted": None if change is None else format_percent(change),
        }


def build_symbol_meta(listing: Listing, ticker: Ticker24h | None) -> SymbolMeta:
    """Combine a listing's filters with its ticker (``None``: no ticker for it).

    Raises:
        ValueError: the listing's tick or step size is not a positive number.
    """
    tick = _size(listing.tick_size, "tick size", listing.symbol)
    step = _size(listing.step_size, "step size", listing.symbol)
    price = ticker.last_price if ticker is not None else None
    options = rounding_options(tick, price)
    volume = ticker.quote_volume if ticker is not None else Decimal(0)
    return SymbolMeta(
        exchange_id=listing.symbol,
        symbol=listing.symbol,
        base_asset=listing.base_asset,
        quote_asset=listing.quote_asset,
        ui_name=f"{listing.base_asset}/{listing.quote_asset}",
        tick_size=tick,
        step_size=step,
        price_precision=precision_from_step(tick),
        amount_precision=precision_from_step(step),
        volume_24h=volume,
        volume_24h_formatted=format_volume(volume),
        rounding_options=options,
        default_rounding=default_rounding(options, price),
        last_price=price,
        price_change_percent_24h=ticker.price_change_percent if ticker is not None else None,
    )


def _size(text: str, name: str, symbol: str) -> Decimal:
    try:
        size = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{symbol}: {name} {text!r} is not a number") from None
    if not size.is_finite() or size <= 0:
        raise ValueError(f"{symbol}: {name} {text!r} is not positive")
    return size.normalize()
