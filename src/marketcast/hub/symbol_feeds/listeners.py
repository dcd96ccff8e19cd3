"""Who is told about a feed's changes: callbacks that must not break each other."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Listeners(Generic[T]):
    """Callbacks told of each new value, in the order they started watching.

    A callback that raises is logged and the others are still told: one connection's bug
    must not starve the other watchers of the same feed.
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._by_key: dict[int, Callable[[T], None]] = {}
        self._keys = itertools.count()

    def __len__(self) -> int:
        return len(self._by_key)

    def watch(self, listener: Callable[[T], None]) -> Callable[[], None]:
        """Add ``listener``; return the function that removes it (safe to call twice)."""
        key = next(self._keys)
        self._by_key[key] = listener

        def unwatch() -> None:
            self._by_key.pop(key, None)

        return unwatch

    def tell(self, value: T) -> int:
        """Tell every listener; return how many of them raised."""
        failed = 0
        for listener in tuple(self._by_key.values()):
            try:
                listener(value)
            except Exception:
                failed += 1
                log.exception("%s: a listener failed", self._what)
        return failed
