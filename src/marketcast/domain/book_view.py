"""Aggregated order-book views: price buckets, cumulative totals and display strings.

A view is what an order-book client sees for its ``(limit, rounding)``: prices grouped
into buckets of size ``rounding`` with exact decimal arithmetic, bids rounded *down* and
asks rounded *up* (so a bucket never promises a better price than the orders in it, and
the two sides can never cross), the ``limit`` best buckets per side, running totals from
the best price outwards, and every number also as a ready-to-show string.

:class:`ViewCache` computes each ``(limit, rounding)`` at most once per book version, so
all clients with the same parameters share one computation per tick.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, localcontext

from marketcast.domain.book_side import Level
from marketcast.domain.formatting import format_fixed, precision_from_step
from marketcast.domain.orderbook import OrderBook

# OrderFox flagged a view as thin when the raw book had under 10 levels per shown level.
RAW_LEVELS_PER_SHOWN_LEVEL = 10
# Wide enough that sums and bucket arithmetic on exchange decimals are always exact.
_PRECISION = 60


@dataclass(frozen=True, slots=True)
class ViewLevel:
    """One bucket: its price, the summed amount, and the total from the best bucket to here."""

    price: Decimal
    amount: Decimal
    cumulative: Decimal
    price_formatted: str
    amount_formatted: str
    cumulative_formatted: str


@dataclass(frozen=True, slots=True)
class DepthInfo:
    """OrderFox's ``market_depth_info``, plus the view's volumes and the raw book's spread.

    ``best_bid``, ``best_ask``, ``spread`` and ``mid_price`` come from the raw (unrounded)
    book, so they describe the market, not the buckets; ``None`` when a side is empty.
    """

    requested_levels: int
    actual_levels: int
    is_market_depth_limited: bool
    raw_bids_count: int
    raw_asks_count: int
    min_required_raw_data: int
    has_insufficient_raw_data: bool
    total_bid_volume: Decimal
    total_ask_volume: Decimal
    best_bid: Decimal | None
    best_ask: Decimal | None
    spread: Decimal | None
    mid_price: Decimal | None


@dataclass(frozen=True, slots=True)
class BookView:
    """An aggregated book. Both sides are best first: bids high to low, asks low to high.

    (OrderFox's payload lists asks high to low; that is ``reversed(view.asks)``, each
    level keeping its cumulative.)
    """

    limit: int
    rounding: Decimal
    price_precision: int
    amount_precision: int
    bids: tuple[ViewLevel, ...]
    asks: tuple[ViewLevel, ...]
    depth: DepthInfo
    last_update: int | None
    event_time: int | None
    version: int


def price_precision(rounding: Decimal) -> int:
    """Decimals needed to show bucket prices: ``10`` -> 0, ``0.5`` -> 1, ``0.01`` -> 2."""
    _check_rounding(rounding)
    return precision_from_step(rounding)


def bucket_down(price: Decimal, rounding: Decimal) -> Decimal:
    """The largest multiple of ``rounding`` not above ``price`` (where a bid is shown)."""
    with localcontext(prec=_PRECISION):
        return (price // rounding) * rounding


def bucket_up(price: Decimal, rounding: Decimal) -> Decimal:
    """The smallest multiple of ``rounding`` not below ``price`` (where an ask is shown)."""
    with localcontext(prec=_PRECISION):
        whole, rest = divmod(price, rounding)
        return (whole + 1 if rest else whole) * rounding


def aggregate(book: OrderBook, limit: int, rounding: Decimal, amount_precision: int) -> BookView:
    """The view of ``book`` for ``limit`` buckets per side of size ``rounding``.

    ``rounding`` must be an exact decimal (``Decimal("0.1")``, not ``Decimal(0.1)``);
    amounts and cumulative totals are shown with ``amount_precision`` decimals.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if amount_precision < 0:
        raise ValueError(f"amount precision must not be negative, not {amount_precision}")
    places = price_precision(rounding)
    with localcontext(prec=_PRECISION):
        bids = _levels(_buckets(book.bids, limit, rounding, bucket_down), places, amount_precision)
        asks = _levels(_buckets(book.asks, limit, rounding, bucket_up), places, amount_precision)
        depth = _depth_info(book, limit, bids, asks)
    return BookView(
        limit=limit,
        rounding=rounding,
        price_precision=places,
        amount_precision=amount_precision,
        bids=bids,
        asks=asks,
        depth=depth,
        last_update=book.last_update,
        event_time=book.event_time,
        version=book.version,
    )


class ViewCache:
    """Views of one book, each ``(limit, rounding)`` computed at most once per book version."""

    def __init__(self, book: OrderBook, amount_precision: int) -> None:
        self._book = book
        self._amount_precision = amount_precision
        self._version = book.version
        self._views: dict[tuple[int, Decimal], BookView] = {}
        self.computed = 0
        """How many views were computed (for metrics and tests)."""

    def view(self, limit: int, rounding: Decimal) -> BookView:
        if self._version != self._book.version:
            self._views.clear()
            self._version = self._book.version
        key = (limit, rounding)
        found = self._views.get(key)
        if found is None:
            found = aggregate(self._book, limit, rounding, self._amount_precision)
            self._views[key] = found
            self.computed += 1
        return found


def _buckets(
    levels: Iterable[Level],
    limit: int,
    rounding: Decimal,
    to_bucket: Callable[[Decimal, Decimal], Decimal],
) -> list[tuple[Decimal, Decimal]]:
    # Levels come best first and bucketing keeps their order, so a bucket's levels are
    # adjacent: the walk stops at the first level of bucket ``limit + 1``.
    found: list[tuple[Decimal, Decimal]] = []
    for price, quantity in levels:
        bucket = to_bucket(price, rounding)
        if found and found[-1][0] == bucket:
            found[-1] = (bucket, found[-1][1] + quantity)
        elif len(found) == limit:
            break
        else:
            found.append((bucket, quantity))
    return found


def _levels(
    buckets: list[tuple[Decimal, Decimal]], places: int, amount_places: int
) -> tuple[ViewLevel, ...]:
    shown: list[ViewLevel] = []
    cumulative = Decimal(0)
    for bucket, amount in buckets:
        cumulative += amount
        price = bucket.quantize(Decimal(1).scaleb(-places))
        shown.append(
            ViewLevel(
                price=price,
                amount=amount,
                cumulative=cumulative,
                price_formatted=format_fixed(price, places),
                amount_formatted=format_fixed(amount, amount_places),
                cumulative_formatted=format_fixed(cumulative, amount_places),
            )
        )
    return tuple(shown)


def _depth_info(
    book: OrderBook, limit: int, bids: tuple[ViewLevel, ...], asks: tuple[ViewLevel, ...]
) -> DepthInfo:
    best_bid = book.bids.best()
    best_ask = book.asks.best()
    bid = best_bid[0] if best_bid else None
    ask = best_ask[0] if best_ask else None
    spread = mid = None
    if bid is not None and ask is not None:
        spread, mid = ask - bid, (ask + bid) / 2
    actual = min(len(bids), len(asks))
    min_raw = limit * RAW_LEVELS_PER_SHOWN_LEVEL
    return DepthInfo(
        requested_levels=limit,
        actual_levels=actual,
        is_market_depth_limited=actual < limit,
        raw_bids_count=len(book.bids),
        raw_asks_count=len(book.asks),
        min_required_raw_data=min_raw,
        has_insufficient_raw_data=len(book.bids) < min_raw or len(book.asks) < min_raw,
        total_bid_volume=bids[-1].cumulative if bids else Decimal(0),
        total_ask_volume=asks[-1].cumulative if asks else Decimal(0),
        best_bid=bid,
        best_ask=ask,
        spread=spread,
        mid_price=mid,
    )


def _check_rounding(rounding: Decimal) -> None:
    if not rounding.is_finite() or rounding <= 0:
        raise ValueError(f"rounding must be a positive finite Decimal, not {rounding!r}")
