"""Ownership of background tasks: nothing runs fire-and-forget."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from marketcast.resources import cancel_and_wait

log = logging.getLogger(__name__)


class TaskOwner:
    """Starts named tasks, logs the ones that die of a bug, cancels the rest on close."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s crashed", task.get_name(), exc_info=task.exception())

    async def cancel(self, task: asyncio.Task[Any]) -> None:
        """Cancel and await ``task``; a crash it already had was logged by ``_finished``."""
        await cancel_and_wait(task)

    async def aclose(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            # At once, before any await: should this close itself be cancelled while
            # waiting, every owned task has still been told to stop.
            task.cancel()
        await asyncio.gather(*(cancel_and_wait(task) for task in tasks))
