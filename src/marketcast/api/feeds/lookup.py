"""Parameters and feeds of the native feed channels: defaults, bounds, lookups (shared by
``/ws`` and REST, so both refuse the same things with the same codes)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from marketcast.api.errors import ProtocolError
from marketcast.api.state import AppState, market_state
from marketcast.domain.market import SymbolMeta
from marketcast.domain.trades import Trade
from marketcast.errors import InvalidLimit, InvalidMarket, MarketcastError, NotReady, UnknownSymbol
from marketcast.exchanges.binance.markets import MARKETS
from marketcast.exchanges.binance.weights import snapshot_limit
from marketcast.hub.symbol_feeds.protocols import BookFeed, LiquidationFeed, TradeFeed

DEFAULT_BOOK_LIMIT: Final = 20
DEFAULT_TRADES_LIMIT: Final = 50
DEFAULT_LIQUIDATIONS_LIMIT: Final = 50
# Volume buckets of a snapshot: everything the feed holds (it keeps a bounded number).
ALL_TIME: Final = (0, 2**62)
# Binance reports liquidations (``@forceOrder``) for USD-M perpetuals only: every
# liquidation answer is this market's, whatever market the node defaults to.
LIQUIDATIONS_MARKET: Final = "usdm"


class NoLiquidations(UnknownSymbol):
    """The symbol is listed, but has no USD-M perpetual, so it has no liquidations."""

    code = "no_liquidations"

    def __init__(self, symbol: str) -> None:
        self.given = symbol
        self.suggestions = ()
        message = f"{symbol} has no USD-M perpetual contract: liquidations exist only there"
        MarketcastError.__init__(self, message)


# -- parameters ----------------------------------------------------------------------
def depth_maximum(state: AppState) -> int:
    """The largest ``/depth`` ``limit`` in ``state.market``: ``book_depth``, but never more
    than that market's book is taken with (a USD-M snapshot stops at 1000 levels), so a
    limit the book can never fill is refused rather than silently cut."""
    depth = state.settings.book_depth
    return min(depth, snapshot_limit(MARKETS[state.market], depth))


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


def liquidations_market(state: AppState, symbol: str, market: str | None) -> tuple[AppState, str]:
    """The state a liquidations request reads, and its symbol without the market.

    A request that names no market (neither ``market`` nor a ccxt unified symbol) reads
    the default market's symbols, as it did before markets ran side by side; one that
    names a market must name USD-M, since liquidations exist nowhere else.

    Raises:
        InvalidMarket: an unknown market (as on every route), or one that is not USD-M.
    """
    on, pair = market_state(state, symbol, market)
    named = bool((market or "").strip()) or "/" in symbol
    if named and on.market != LIQUIDATIONS_MARKET:
        detail = (
            f"liquidations exist only on USD-M perpetuals, not on {on.market}: "
            f"ask with market={LIQUIDATIONS_MARKET} or without a market"
        )
        raise InvalidMarket(on.market, (LIQUIDATIONS_MARKET,), detail)
    return on, pair


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
