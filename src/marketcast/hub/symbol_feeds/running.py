"""Which symbols a per-symbol feed (order books, trade tapes, liquidations) keeps running.

:class:`SymbolFeeds` is the bookkeeping every such feed shares: symbols listed in
``always`` start with the registry and never stop; any other symbol starts on its first
:meth:`SymbolFeeds.acquire` (at most ``max_on_demand`` of them at a time, to protect the
exchange quota) and stops once nobody has held it for ``idle_s``. What "start", "ready"
and "stop" mean is the feed's business, given as :class:`FeedHooks`; every background
task of the feed belongs to :attr:`SymbolFeeds.owner`, so closing the registry ends them.

Concurrency: acquiring a running symbol takes no lock, so it never waits for another
symbol's start or stop. Starts are serialised (the on-demand cap is counted under the
lock); a stopping symbol leaves the map before its stop begins, without any await between
the idle check and the removal, and a new acquire of it waits for that stop to end
before starting it again (otherwise the old stop could unsubscribe the new feed).
:meth:`SymbolFeeds.aclose` cancels every owned task even when it is cancelled itself.

The idle rule itself (:func:`is_idle`) is pure and the clock is injected, so tests drive
:meth:`SymbolFeeds.sweep` with a fake clock instead of waiting out the grace period.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Final, Generic, Protocol, TypeVar

from marketcast.domain.market import SymbolMeta
from marketcast.errors import CapacityExceeded, NotReady
from marketcast.hub.tasks import TaskOwner
from marketcast.resources import AsyncResource

log = logging.getLogger(__name__)

S = TypeVar("S")
Release = Callable[[], None]

# The janitor looks for idle symbols this often at most: an idle feed costs little, so
# stopping it a few seconds late is fine, and a short grace period is still honoured.
_MAX_SWEEP_INTERVAL_S = 10.0


@dataclass(frozen=True)
class FeedLimits:
    """How many on-demand symbols, how long they idle before stopping, how long to wait."""

    max_on_demand: int = 50
    idle_s: float = 300.0
    ready_timeout_s: float = 30.0


DEFAULT_LIMITS: Final = FeedLimits()
"""The defaults, for feeds' signatures (a call in a default argument is evaluated once)."""


class RawStreams(Protocol):
    """Raw market streams by Binance name (``KlineStream`` fits); one consumer of events."""

    async def add_streams(self, names: Iterable[str]) -> None: ...
    async def remove_streams(self, names: Iterable[str]) -> None: ...
    def events(self) -> AsyncIterator[object]: ...


class SymbolDirectory(Protocol):
    """Display metadata by exchange id (``SymbolService`` fits); raises UnknownSymbol."""

    async def get(self, symbol: str) -> SymbolMeta: ...


class FeedHooks(Protocol[S]):
    """What a feed does when one of its symbols starts, becomes servable and stops."""

    async def start_symbol(self, symbol: str) -> S:
        """Begin following ``symbol`` (subscribe, start tasks); return its state.

        Should return quickly: waiting until it can be served is :meth:`until_ready`.
        Raising (``UnknownSymbol``...) leaves nothing running for the symbol.
        """
        ...

    async def until_ready(self, symbol: str, state: S) -> None:
        """Return once ``state`` can be served (book synced, history loaded)."""
        ...

    async def stop_symbol(self, symbol: str, state: S) -> None:
        """Stop following ``symbol`` (unsubscribe, cancel its tasks)."""
        ...


@dataclass(slots=True)
class _Entry(Generic[S]):
    state: S
    on_demand: bool
    holders: int
    last_used: float


def is_idle(holders: int, last_used: float, now: float, idle_s: float) -> bool:
    """An on-demand symbol stops when nobody holds it and nobody did for ``idle_s``."""
    return holders == 0 and now - last_used >= idle_s


class SymbolFeeds(AsyncResource, Generic[S]):
    """Reference-counted per-symbol feeds; start with ``async with`` or :meth:`start`.

    Args:
        hooks: the feed's start, ready and stop steps.
        always: symbols that run from :meth:`start` to :meth:`aclose` whatever the holders.
        limits: the on-demand cap, the idle grace period and the ready timeout.
        clock: seconds; only differences are used.
        name: names the feed in logs and task names (``"books"``).
    """

    def __init__(
        self,
        hooks: FeedHooks[S],
        *,
        always: Iterable[str] = (),
        limits: FeedLimits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.monotonic,
        name: str = "feed",
    ) -> None:
        self.owner = TaskOwner()
        self.limits = limits
        self.name = name
        self._hooks = hooks
        self._always = tuple(dict.fromkeys(always))
        self._clock = clock
        self._entries: dict[str, _Entry[S]] = {}
        # Symbols whose stop is under way; set once it ended (a restart waits for it).
        self._stopping: dict[str, asyncio.Event] = {}
        self._lock = asyncio.Lock()  # serialises starts, so the on-demand cap holds
        self._started = False
        self._closed = False

    async def __aenter__(self) -> SymbolFeeds[S]:
        await self.start()
        return self

    async def start(self) -> None:
        """Start the ``always`` symbols (without waiting for them) and the idle janitor."""
        if self._started:
            return
        self._started = True
        for symbol in self._always:
            await self._ensure(symbol)
        interval = min(_MAX_SWEEP_INTERVAL_S, self.limits.idle_s / 2)
        self.owner.start(self._janitor(interval), name=f"{self.name}-idle-janitor")

    # -- reading ---------------------------------------------------------------------
    def state(self, symbol: str) -> S | None:
        """The running state of ``symbol``, or ``None`` when it is not running."""
        entry = self._entries.get(symbol)
        return None if entry is None else entry.state

    def running(self) -> dict[str, S]:
        return {symbol: entry.state for symbol, entry in self._entries.items()}

    def holders(self, symbol: str) -> int:
        entry = self._entries.get(symbol)
        return 0 if entry is None else entry.holders

    @property
    def closing(self) -> bool:
        """The whole feed is closing: a symbol's stop need not unsubscribe its stream,
        which closes right after (one UNSUBSCRIBE round trip per symbol held shutdowns
        past their deadline)."""
        return self._closed

    def on_demand(self) -> list[str]:
        return [symbol for symbol, entry in self._entries.items() if entry.on_demand]

    # -- holding ---------------------------------------------------------------------
    async def acquire(self, symbol: str) -> Release:
        """Hold ``symbol``, starting it if needed; return once ready, with its release.

        Raises:
            CapacityExceeded: ``symbol`` is not running and ``max_on_demand`` others are.
            NotReady: not ready within ``ready_timeout_s`` (the hold is given back).
            Whatever :meth:`FeedHooks.start_symbol` raises (``UnknownSymbol``).
        """
        entry = await self._ensure(symbol)
        entry.holders += 1
        release = self._releaser(symbol, entry)
        try:
            async with asyncio.timeout(self.limits.ready_timeout_s):
                await self._hooks.until_ready(symbol, entry.state)
        except TimeoutError:
            release()
            raise NotReady(
                f"{self.name} for {symbol} not ready within {self.limits.ready_timeout_s:g}s "
                "(is the exchange reachable?); retry"
            ) from None
        except BaseException:
            release()
            raise
        return release

    def _releaser(self, symbol: str, entry: _Entry[S]) -> Release:
        released = False

        def release() -> None:
            nonlocal released
            if released:  # a second call must not take someone else's hold
                return
            released = True
            entry.holders -= 1
            entry.last_used = self._clock()

        return release

    async def _ensure(self, symbol: str) -> _Entry[S]:
        while True:
            if self._closed:
                raise NotReady(f"{self.name} is shutting down")
            entry = self._entries.get(symbol)
            if entry is not None:
                # Lock-free: a running symbol never waits for another one's start or
                # stop. Safe because an entry leaves the map before its stop begins and
                # the caller takes its hold before its next await.
                return entry
            stopping = self._stopping.get(symbol)
            if stopping is not None:
                # Its old feed is still unsubscribing: starting anew now would have that
                # stop undo the new subscription.
                await stopping.wait()
                continue
            async with self._lock:
                if symbol not in self._entries and symbol not in self._stopping:
                    return await self._start(symbol)
            # Started or stopped by someone else while we waited for the lock: look again.

    async def _start(self, symbol: str) -> _Entry[S]:
        """Start ``symbol``; the caller holds the lock (starts are counted against the cap)."""
        if self._closed:
            raise NotReady(f"{self.name} is shutting down")
        on_demand = symbol not in self._always
        if on_demand and len(self.on_demand()) >= self.limits.max_on_demand:
            raise CapacityExceeded(
                f"{self.name}: on-demand symbol limit reached ({self.limits.max_on_demand}); "
                f"always available: {', '.join(self._always) or 'none'}"
            )
        state = await self._hooks.start_symbol(symbol)
        entry = _Entry(state, on_demand, holders=0, last_used=self._clock())
        self._entries[symbol] = entry
        if on_demand:
            log.info("%s: on-demand symbol %s started", self.name, symbol)
        return entry

    # -- stopping --------------------------------------------------------------------
    async def sweep(self) -> list[str]:
        """Stop every on-demand symbol idle for ``idle_s`` now; return their names."""
        now = self._clock()
        idle = [
            symbol
            for symbol, entry in self._entries.items()
            if entry.on_demand and is_idle(entry.holders, entry.last_used, now, self.limits.idle_s)
        ]
        # Taken out of the map at once (no await since the idle check, so no hold can
        # sneak in); the slow part, stopping, runs without blocking anyone else.
        retired = [(symbol, self._retire(symbol)) for symbol in idle]
        for symbol, entry in retired:
            await self._stop(symbol, entry)
            log.info("%s: on-demand symbol %s stopped after idling", self.name, symbol)
        return idle

    async def _janitor(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:
                # A dead janitor would keep idle symbols (and their quota) forever.
                log.exception("%s: idle sweep failed; trying again in %gs", self.name, interval)

    def _retire(self, symbol: str) -> _Entry[S]:
        """Take ``symbol`` out of the map and mark it stopping, in one synchronous step."""
        self._stopping[symbol] = asyncio.Event()
        return self._entries.pop(symbol)

    async def _stop(self, symbol: str, entry: _Entry[S]) -> None:
        try:
            await self._hooks.stop_symbol(symbol, entry.state)
        except Exception:  # one symbol failing to unsubscribe must not keep others running
            log.exception("%s: could not stop %s cleanly", self.name, symbol)
        finally:
            self._stopping.pop(symbol).set()

    async def aclose(self) -> None:
        """Stop every symbol, then cancel every task the feed still owns.

        The tasks are cancelled even when this is cancelled itself (a shutdown deadline
        cutting a slow unsubscribe short): nothing of the feed outlives its close.
        """
        if self._closed:
            return
        self._closed = True
        try:
            async with self._lock:  # lets a start under way finish, so it is stopped too
                retired = [(symbol, self._retire(symbol)) for symbol in list(self._entries)]
            # Concurrently: each stop waits for its tasks to end, and one after the other
            # a loaded event loop turned a dozen short waits into a shutdown past its
            # deadline.
            await asyncio.gather(*(self._stop(symbol, entry) for symbol, entry in retired))
        finally:
            await self.owner.aclose()
