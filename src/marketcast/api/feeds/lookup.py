"""Parameters and feeds of the native feed channels: defaults, bounds, lookups (shared by
``/ws`` and REST, so both refuse the same things with the same codes)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from marketcast.api.errors import ProtocolError
from marketcast.api.state import AppState
from marketcast.domain.market import SymbolMeta
from marketcast.domain.trades import Trade
from marketcast.errors import InvalidLimit, MarketcastError, NotReady, UnknownSymbol
from marketcast.hub.symbol_feeds.protocols import BookFeed, LiquidationFeed, TradeFeed

DEFAULT_BOOK_LIMIT: Final = 20
DEFAULT_TRADES_LIMIT: Final = 50
DEFAULT_LIQUIDATIONS_LIMIT: Final = 50
# Volume buckets of a snapshot: everything the feed holds (it keeps a bounded number).
ALL_TIME: Final = (0, 2**62)


class NoLiquidations(UnknownSymbol):
    """The symbol is listed, but has no USD-M perpetual, so it has no liquidations."""

    code = "no_liquidations"

    def __init__(self, symbol: str) -> None:
        self.given = symbol
        self.suggestions = ()
        message = f"{symbol} has no USD-M perpetual contract: liquidations exist only there"
        MarketcastError.__init__(self, message)


# -- parameters ----------------------------------------------------------------------
def checked_limit(limit: int | None, *, default: int, maximum: int) -> int:
    if limit is None:
        return min(default, maximum)
    if not 1 <= limit <= maximum:
        raise InvalidLimit(limit, maximum)
    return limit


def chosen_rounding(meta: SymbolMeta, rounding: Decimal | None) -> Decimal:
    """The symbol's option equal to ``rounding`` (``0.10`` is ``0.1``), or its default."""
    if rounding is None:
        return meta.default_rounding
    for option in meta.rounding_options:
        if option == rounding:
            return option
    offered = ", ".join(format(option, "f") for option in meta.rounding_options)
    raise ProtocolError(
        "invalid_rounding",
        f"rounding {format(rounding, 'f')} is not offered for {meta.symbol}; "
        f"choose one of {offered}",
    )


def trades_after(
    held: Sequence[Trade], since_id: int | None, limit: int
) -> tuple[list[Trade], bool]:
    """What a trades snapshot sends, ascending id, and whether it is a ``reset``.

    ``held`` is what the tape has released, newest first and continuous by id. A client
    continues if the tape still holds the trade after ``since_id``; otherwise it starts over
    (an empty tape included: nothing proves its copy joins what comes next).
    """
    if since_id is not None and held and since_id >= held[-1].id - 1:
        return [trade for trade in reversed(held) if trade.id > since_id], False
    return list(reversed(held[:limit])), since_id is not None


async def symbol_meta(state: AppState, symbol: str) -> SymbolMeta:
    if state.symbols is None:
        raise NotReady("the symbol service is not running on this node")
    return await state.symbols.get(symbol)


def books_of(state: AppState) -> BookFeed:
    if state.books is None:
        raise NotReady("order books are not running on this node")
    return state.books


def trades_of(state: AppState) -> TradeFeed:
    if state.trades is None:
        raise NotReady("trade tapes are not running on this node")
    return state.trades


def liquidations_of(state: AppState, symbol: str) -> LiquidationFeed:
    """The liquidation feed, if ``symbol`` has a perpetual.

    Raises:
        NotReady: no feed on this node, or its USD-M catalog is not loaded yet (``covers``
            raises it: a perpetual is not refused as missing while we cannot know).
        NoLiquidations: the catalog is loaded and has no perpetual for ``symbol``.
    """
    if state.liquidations is None:
        raise NotReady("liquidations are not running on this node")
    if not state.liquidations.covers(symbol):
        raise NoLiquidations(symbol)
    return state.liquidations


async def book_params(
    state: AppState, symbol: str, limit: int | None, rounding: Decimal | None
) -> tuple[SymbolMeta, int, Decimal]:
    maximum = state.settings.max_orderbook_limit
    checked = checked_limit(limit, default=DEFAULT_BOOK_LIMIT, maximum=maximum)
    meta = await symbol_meta(state, symbol)
    return meta, checked, chosen_rounding(meta, rounding)
