"""Liquidation history per symbol: the store interface, its member encoding, the memory backend.

Liquidations are kept so their history (and the volume buckets rebuilt from it) survives a
restart when the store is Redis. Each symbol keeps its newest ``capacity`` liquidations,
ordered by time and then by their encoding, which is exactly the order of a Redis sorted set
scored by time: both backends answer every read the same way.

A liquidation is stored once per :attr:`~marketcast.domain.liquidations.Liquidation.key`
(time, quantity, side), the identity OrderFox de-duplicates by; the first version written
wins. Two nodes, or the external history and the live stream, may write the same one.

:class:`LiquidationWriter` puts a bounded queue in front of a store, for callers (the
live feed) that must never wait for it.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Final, Protocol

from marketcast.domain.liquidations import Liquidation, OrderSide
from marketcast.errors import StoreUnavailable
from marketcast.resources import cancel_and_wait

log = logging.getLogger(__name__)

DEFAULT_CAPACITY: Final = 10_000
DRAIN_S: Final = 2.0
"""How long closing a :class:`LiquidationWriter` waits for queued writes."""

_SIDE_CODES: Final[dict[OrderSide, str]] = {"BUY": "B", "SELL": "S"}
_SIDES: Final[dict[str, OrderSide]] = {code: side for side, code in _SIDE_CODES.items()}


class LiquidationStore(Protocol):
    """The newest ``capacity`` liquidations of each symbol, de-duplicated by key."""

    capacity: int

    async def add(self, symbol: str, liquidations: Sequence[Liquidation]) -> list[Liquidation]:
        """Store ``liquidations``; return those that were new and are kept, in the given
        order. One older than every kept liquidation of a full symbol is not kept."""
        ...

    async def recent(self, symbol: str, limit: int) -> list[Liquidation]:
        """Up to ``limit`` liquidations, newest first."""
        ...

    async def since(self, symbol: str, start_ms: int) -> list[Liquidation]:
        """Every kept liquidation at or after ``start_ms``, oldest first (bucket rebuilds)."""
        ...

    async def aclose(self) -> None: ...


def _decimal_text(value: Decimal) -> str:
    """The one text of ``value``: fixed point, no trailing zeros, so equal values agree.

    ``format(..., "f")`` never rounds, unlike ``Decimal.normalize`` (bound to the context's
    28 digits), so the encoding stays exact for any finite value.
    """
    if not value.is_finite():
        raise ValueError(f"cannot store a non-finite amount: {value}")
    if value == 0:
        return "0"  # also folds -0 into 0
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def key_prefix(liquidation: Liquidation) -> str:
    """The start of the member every liquidation of the same key shares."""
    code = _SIDE_CODES[liquidation.side]
    return f"{liquidation.time_ms}:{code}:{_decimal_text(liquidation.quantity)}:"


def encode_liquidation(liquidation: Liquidation) -> str:
    """``time:side:quantity:price:avg_price``, e.g. ``1700000000123:S:0.014:37000.1:37010``.

    The symbol is left out: it is in the key the member is stored under.
    """
    prices = f"{_decimal_text(liquidation.price)}:{_decimal_text(liquidation.avg_price)}"
    return key_prefix(liquidation) + prices


def decode_liquidation(symbol: str, member: str | bytes) -> Liquidation:
    text = member.decode() if isinstance(member, bytes) else member
    time_ms, side, quantity, price, avg_price = text.split(":")
    return Liquidation(
        symbol=symbol,
        side=_SIDES[side],
        quantity=Decimal(quantity),
        price=Decimal(price),
        avg_price=Decimal(avg_price),
        time_ms=int(time_ms),
    )


def decode_members(
    symbol: str, members: Iterable[str | bytes]
) -> tuple[list[Liquidation], list[str | bytes]]:
    """The members that decode, in the given order, and those that do not.

    A stored member that does not decode (written by another version, or by hand) costs
    that one liquidation, never the symbol's whole history.
    """
    decoded: list[Liquidation] = []
    undecodable: list[str | bytes] = []
    for member in members:
        try:
            decoded.append(decode_liquidation(symbol, member))
        except (ValueError, KeyError, InvalidOperation):  # UnicodeDecodeError is a ValueError
            undecodable.append(member)
    return decoded, undecodable


def check_symbol(symbol: str, liquidations: Sequence[Liquidation]) -> None:
    """Refuse to file a liquidation under another symbol's history (a caller's bug)."""
    for liquidation in liquidations:
        if liquidation.symbol != symbol:
            raise ValueError(f"liquidation of {liquidation.symbol} given for {symbol}")


class _History:
    """One symbol's kept liquidations, in store order, with their keys for de-duplication."""

    def __init__(self) -> None:
        self.order: list[tuple[int, str]] = []  # (time, member), ascending
        self.by_member: dict[str, Liquidation] = {}
        self.keys: set[tuple[int, Decimal, OrderSide]] = set()

    def add(self, liquidation: Liquidation, capacity: int) -> bool:
        if liquidation.key in self.keys:
            return False
        entry = (liquidation.time_ms, encode_liquidation(liquidation))
        bisect.insort(self.order, entry)
        self.by_member[entry[1]] = liquidation
        self.keys.add(liquidation.key)
        # Trim after every insert, as the Redis script does, so both keep the same set.
        while len(self.order) > capacity:
            _, dropped = self.order.pop(0)
            self.keys.discard(self.by_member.pop(dropped).key)
        return True


class MemoryLiquidationStore:
    """Liquidation history in this process: lost on restart, like the memory candle store."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._histories: dict[str, _History] = {}

    async def add(self, symbol: str, liquidations: Sequence[Liquidation]) -> list[Liquidation]:
        check_symbol(symbol, liquidations)
        history = self._histories.setdefault(symbol, _History())
        added = [item for item in liquidations if history.add(item, self.capacity)]
        # The trim may have dropped an item at once (older than all kept) or after a later
        # item of the same batch: only those still kept count as new.
        kept = history.by_member
        return [item for item in added if encode_liquidation(item) in kept]

    async def recent(self, symbol: str, limit: int) -> list[Liquidation]:
        history = self._histories.get(symbol)
        if history is None or limit <= 0:
            return []
        newest = history.order[-limit:]
        return [history.by_member[member] for _, member in reversed(newest)]

    async def since(self, symbol: str, start_ms: int) -> list[Liquidation]:
        history = self._histories.get(symbol)
        if history is None:
            return []
        first = bisect.bisect_left(history.order, (start_ms, ""))
        return [history.by_member[member] for _, member in history.order[first:]]

    async def aclose(self) -> None:
        self._histories.clear()


# Batches (a liquidation or a few each) held while the store is away: at most one
# liquidation per symbol a second arrives, so this covers a long outage of many symbols.
DEFAULT_PENDING: Final = 10_000
_RETRY_DELAYS: Final = (0.2, 0.5, 1.0, 2.0, 5.0)


class LiquidationWriter:
    """Writes liquidations to a store from its own task, so no caller waits for the store.

    :meth:`offer` never blocks: at most ``max_pending`` batches wait, and a batch offered
    beyond that is dropped and counted (it is still served from memory, just not kept).
    While the store is unavailable the batch at the head is written again, with backoff,
    until the store takes it (writes are idempotent per liquidation), so an outage delays
    what is kept but loses nothing within the bound. A write that fails for any other
    reason is a bug: it is logged with its traceback, counted, and the next one is tried.
    """

    def __init__(self, store: LiquidationStore, *, max_pending: int = DEFAULT_PENDING) -> None:
        self.store = store
        self.failures = 0
        self.retries = 0
        self.dropped = 0  # liquidations, not batches
        self.last_error: str | None = None
        self._pending: asyncio.Queue[tuple[str, list[Liquidation]]] = asyncio.Queue(max_pending)
        self._task: asyncio.Task[None] | None = None
        self._dropping = False
        self._writing = 0

    @property
    def pending(self) -> int:
        """Batches not stored yet, the one being written (or retried) included."""
        return self._pending.qsize() + self._writing

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="liquidations-writer")

    def offer(self, symbol: str, liquidations: list[Liquidation]) -> None:
        """Queue ``liquidations`` for the store, or drop them if the queue is full."""
        if not liquidations:
            return
        try:
            self._pending.put_nowait((symbol, liquidations))
            self._dropping = False
        except asyncio.QueueFull:
            self.dropped += len(liquidations)
            if not self._dropping:  # once per stretch of drops, not once per liquidation
                self._dropping = True
                log.warning("liquidation store too slow: not storing new liquidations for now")

    async def _run(self) -> None:
        while True:
            symbol, liquidations = await self._pending.get()
            self._writing = 1
            try:
                await self._write(symbol, liquidations)
            finally:
                self._writing = 0
                self._pending.task_done()

    async def _write(self, symbol: str, liquidations: list[Liquidation]) -> None:
        """Write one batch, waiting out a store outage (the store logs the outage)."""
        attempt = 0
        while True:
            try:
                await self.store.add(symbol, liquidations)
                return
            except StoreUnavailable as error:
                self.retries += 1
                self.last_error = str(error)
                await asyncio.sleep(_RETRY_DELAYS[min(attempt, len(_RETRY_DELAYS) - 1)])
                attempt += 1
            except Exception as error:
                self.failures += 1
                self.last_error = str(error) or type(error).__name__
                log.exception("could not store %d %s liquidations", len(liquidations), symbol)
                return

    async def aclose(self, drain_s: float = DRAIN_S) -> None:
        """Write what is queued for up to ``drain_s`` seconds, then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain_s):
                await self._pending.join()
        await cancel_and_wait(task)
