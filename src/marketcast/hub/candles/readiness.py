"""When topics can be served without a local worker, and how bootstrap progress is logged.

An ingesting node's topic is ready when its sync worker has bootstrapped. A node that
does not ingest (an API node, or a standby) serves what another node writes to the
shared store: a configured topic is ready there once the store holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Final

from marketcast.domain.topics import Topic
from marketcast.errors import CapacityExceeded
from marketcast.store.interface import CandleStore

log = logging.getLogger(__name__)

WATCH_INTERVAL_S: Final = 0.25
POLL_INTERVAL_S: Final = 0.1


class StoredTopics:
    """Which configured topics the (shared) store already holds."""

    def __init__(self, store: CandleStore) -> None:
        self._store = store
        self._held: set[Topic] = set()

    def __contains__(self, topic: object) -> bool:
        return topic in self._held

    async def watch(self, configured: Callable[[], Sequence[Topic]]) -> None:
        """Look until the store holds every configured topic (the list may shrink once
        the exchange's listing is known, hence a callable)."""
        while len(self._held) < len(configured()):
            for topic in configured():
                if topic not in self._held:
                    with contextlib.suppress(Exception):  # store down: look again later
                        if await self._store.last(topic) is not None:
                            self._held.add(topic)
            await asyncio.sleep(WATCH_INTERVAL_S)

    async def wait_for(self, topic: Topic, configured: Sequence[Topic], timeout_s: float) -> None:
        """Return once the store holds ``topic``; a topic not configured is refused."""
        if topic not in configured:
            # An on-demand topic lives only as long as the leader that started it wants
            # it; a node that does not ingest cannot keep it alive, so it serves only the
            # configured topics rather than a series that may freeze without notice.
            raise CapacityExceeded(
                f"{topic} is not configured; this node does not ingest, and on-demand "
                "topics are served by the ingest leader only (or configure the symbol)"
            )
        # Another node fills the shared store, so there is no local event to wait for.
        async with asyncio.timeout(timeout_s):
            while await self._store.last(topic) is None:  # noqa: ASYNC110
                await asyncio.sleep(POLL_INTERVAL_S)


async def log_bootstrap(
    progress: Callable[[], tuple[int, int]], clock: Callable[[], float]
) -> None:
    """Log ``progress()`` (done, total) as it changes, until every topic is ready."""
    started = clock()
    reported = -1
    while True:
        done, total = progress()
        if done != reported:
            log.info("bootstrap %d/%d topics ready", done, total)
            reported = done
        if done == total:
            log.info("bootstrap complete in %.2fs", clock() - started)
            return
        await asyncio.sleep(WATCH_INTERVAL_S)
