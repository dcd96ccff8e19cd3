"""asyncio's ``Event`` and ``Queue`` for one connection, without their up-front deques.

A node holds a few of these per WebSocket: uvicorn's protocol a queue of received events
and a "writable" event, each session an event that wakes its writer. asyncio's own
allocate a deque of waiters when made (the queue three deques), about 600 bytes each,
though most connections never have anything waiting. These allocate only while
something waits or is queued: ``bench/connection_memory.py`` went from 33.0 to 27.9 KB
of heap per connection. Same methods, same semantics for what uses them: any number of
waiters, woken in the order they came.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


def _wake_all(waiters: list[asyncio.Future[None]] | None) -> None:
    for waiter in waiters or ():
        if not waiter.done():
            waiter.set_result(None)


async def _wait_in(waiters: list[asyncio.Future[None]]) -> None:
    """Wait on a new future in ``waiters``; take it out again however the wait ends."""
    waiter = asyncio.get_running_loop().create_future()
    waiters.append(waiter)
    try:
        await waiter
    finally:
        if waiter in waiters:
            waiters.remove(waiter)


class Event:
    """Like :class:`asyncio.Event`: ``wait`` returns once ``set``, until ``clear``."""

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if not self._value:
            self._value = True
            waiters, self._waiters = self._waiters, None
            _wake_all(waiters)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        if self._waiters is None:
            self._waiters = []
        await _wait_in(self._waiters)
        return True


class Queue(Generic[T]):
    """Like an unbounded :class:`asyncio.Queue`: ``put_nowait``, ``get``, ``empty``, ``qsize``."""

    __slots__ = ("_getters", "_items")

    def __init__(self) -> None:
        self._items: deque[T] | None = None
        self._getters: list[asyncio.Future[None]] | None = None

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def put_nowait(self, item: T) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        self._wake_one()

    def _wake_one(self) -> None:
        """Wake the oldest getter not woken yet; the others wait for items of their own."""
        for getter in self._getters or ():
            if not getter.done():
                getter.set_result(None)
                return

    async def get(self) -> T:
        while not self._items:
            if self._getters is None:
                self._getters = []
            try:
                await _wait_in(self._getters)
            except asyncio.CancelledError:
                if self._items:
                    self._wake_one()  # it may have been woken for an item: pass it on
                raise
        item = self._items.popleft()
        if not self._items:
            self._items = None  # most connections sit idle with nothing queued
        return item
