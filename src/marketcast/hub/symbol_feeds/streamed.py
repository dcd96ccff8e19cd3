"""The shell of a per-symbol feed that reads one raw stream: :class:`StreamedFeeds`.

Order books (:mod:`~marketcast.hub.books.keeper`) and trade tapes
(:mod:`~marketcast.hub.trades.tapes`) share it: a
:class:`~marketcast.hub.symbol_feeds.running.SymbolFeeds` registry decides which symbols
run, this class is its :class:`~marketcast.hub.symbol_feeds.running.FeedHooks`. It owns
subscribing and unsubscribing each symbol's stream, starting and cancelling the symbol's
tasks, and the one dispatcher task that reads the stream; a subclass says what a symbol's
state is, which tasks it runs, where a stream event goes and when a state is ready.

The stream must be the feed's own: :meth:`RawStreams.events` has a single consumer.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Generic, Protocol, Self, TypeVar

from marketcast.errors import NotReady
from marketcast.exchanges.binance.messages import StreamsReconnected
from marketcast.hub.symbol_feeds.protocols import Release
from marketcast.hub.symbol_feeds.running import FeedLimits, RawStreams, SymbolDirectory, SymbolFeeds
from marketcast.resources import AsyncResource


class StreamedState(Protocol):
    """What the shell needs of a symbol's state (``LiveBook`` and ``LiveTape`` fit)."""

    @property
    def symbol(self) -> str: ...
    @property
    def stream(self) -> str: ...

    tasks: tuple[asyncio.Task[Any], ...]

    def status(self) -> dict[str, Any]: ...


S = TypeVar("S", bound=StreamedState)


class StreamedFeeds(AsyncResource, ABC, Generic[S]):
    """Per-symbol states fed from one raw stream; start with ``async with``.

    Args:
        stream: the feed's own raw stream client.
        symbols: checks that a symbol is listed before it takes an on-demand slot.
        stream_suffix: appended to the lower-case symbol to name its stream (``@aggTrade``).
        kind: names one state in logs, errors and task names (``"order book"``).
        status_key: the key of the per-symbol map in :meth:`status` (``"books"``).
        always: symbols that run from start to close.
        limits: on-demand cap, idle grace period, ready timeout.
        clock: seconds for the idle rule; only differences are used.
    """

    def __init__(
        self,
        *,
        stream: RawStreams,
        symbols: SymbolDirectory,
        stream_suffix: str,
        kind: str,
        status_key: str,
        always: Sequence[str],
        limits: FeedLimits,
        clock: Callable[[], float],
    ) -> None:
        self._stream = stream
        self._symbols = symbols
        self._stream_suffix = stream_suffix
        self._kind = kind
        self._status_key = status_key
        # Every state from the moment its stream is subscribed (before the registry lists
        # it), so the dispatcher hands it the first events (a book buffers its first
        # diffs, a tape its first trades) instead of dropping them.
        self._live: dict[str, S] = {}
        self._feeds: SymbolFeeds[S] = SymbolFeeds(
            self, always=always, limits=limits, clock=clock, name=f"{kind}s"
        )
        self._started = False

    # -- what differs ----------------------------------------------------------------
    @abstractmethod
    def _new_state(self, symbol: str, stream: str) -> S:
        """A fresh state for ``symbol``, fed from the raw stream named ``stream``."""

    @abstractmethod
    def _state_tasks(self, state: S) -> dict[str, Coroutine[Any, Any, None]]:
        """The tasks that keep ``state`` going, by task name (started in this order)."""

    @abstractmethod
    def _route(self, event: object) -> None:
        """Hand one stream event (not a reconnect) to the state in :attr:`_live` it is for."""

    @abstractmethod
    def _on_reconnect(self, state: S) -> None:
        """``state``'s stream came back after a reconnect: events may have been missed."""

    @abstractmethod
    async def until_ready(self, symbol: str, state: S) -> None:
        """Return once ``state`` can be served (book synced, history loaded)."""

    # -- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def start(self) -> None:
        """Read the stream, and start the configured symbols (without waiting for them)."""
        if self._started:
            return
        self._started = True
        self._feeds.owner.start(self._dispatch(), name=f"{self._kind.replace(' ', '-')}-stream")
        await self._feeds.start()

    async def aclose(self) -> None:
        await self._feeds.aclose()

    # -- holding ---------------------------------------------------------------------
    async def acquire(self, symbol: str) -> Release:
        """Hold ``symbol``'s state; return once it is ready (see :meth:`until_ready`).

        Raises:
            UnknownSymbol: not listed. CapacityExceeded: too many on-demand symbols.
            NotReady: not ready within the ready timeout.
        """
        await self._symbols.get(symbol)  # an unknown symbol must not take a slot
        return await self._feeds.acquire(symbol)

    def status(self) -> dict[str, Any]:
        on_demand = set(self._feeds.on_demand())
        states: dict[str, Any] = {}
        for symbol, state in self._feeds.running().items():
            states[symbol] = state.status() | {
                "holders": self._feeds.holders(symbol),
                "on_demand": symbol in on_demand,
            }
        return {
            self._status_key: states,
            "on_demand": len(on_demand),
            "max_on_demand": self._feeds.limits.max_on_demand,
        }

    async def sweep_idle(self) -> list[str]:
        """Stop the on-demand symbols idle for the grace period now (the janitor does this
        on its own every few seconds); return their symbols."""
        return await self._feeds.sweep()

    def _state(self, symbol: str) -> S:
        """The running state of ``symbol``; NotReady when nobody acquired it."""
        state = self._feeds.state(symbol)
        if state is None:
            raise NotReady(f"no {self._kind} is kept for {symbol}; acquire it first")
        return state

    # -- FeedHooks -------------------------------------------------------------------
    async def start_symbol(self, symbol: str) -> S:
        state = self._new_state(symbol, symbol.lower() + self._stream_suffix)
        self._live[symbol] = state
        try:
            await self._stream.add_streams([state.stream])
        except BaseException:
            del self._live[symbol]
            raise
        owner = self._feeds.owner
        tasks = self._state_tasks(state)
        state.tasks = tuple(owner.start(coro, name=name) for name, coro in tasks.items())
        return state

    async def stop_symbol(self, symbol: str, state: S) -> None:
        self._live.pop(symbol, None)
        for task in state.tasks:
            await self._feeds.owner.cancel(task)
        if not self._feeds.closing:
            await self._stream.remove_streams([state.stream])

    # -- the stream ------------------------------------------------------------------
    async def _dispatch(self) -> None:
        async for event in self._stream.events():
            if isinstance(event, StreamsReconnected):
                for state in self._live.values():
                    if state.stream in event.streams:
                        self._on_reconnect(state)
            else:
                self._route(event)
