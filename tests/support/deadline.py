"""A deadline inside the event loop for every coroutine test.

pytest-timeout's signal method raises its failure wherever the main thread happens to be.
In a coroutine test that is most often inside an event-loop callback, and asyncio catches
and logs what a callback raises: the timeout is swallowed and the test runs on, for as long
as its own waits allow (on a loaded machine that was hours, and the run never ended). So
each coroutine test also runs under ``asyncio.timeout`` set a little inside its
pytest-timeout: the loop cancels the test's task at its next await, the test's ``async
with`` blocks unwind, and the test fails with the line it was waiting on. pytest-timeout
stays as the backstop for a test stuck in synchronous code, where no await comes.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

# The deadline is this share of the test's pytest-timeout, so the loop's cancel comes first
# and the teardown it starts has the rest of the time to finish.
SHARE = 0.85


def seconds_for(item: pytest.Item) -> float | None:
    """The test's pytest-timeout in seconds (its marker, else the ini value); None if off."""
    marker = item.get_closest_marker("timeout")
    if marker is not None and (marker.args or "timeout" in marker.kwargs):
        value = marker.args[0] if marker.args else marker.kwargs["timeout"]
    else:
        value = item.config.getini("timeout")
    seconds = float(value) if value not in (None, "") else 0.0
    return seconds if seconds > 0 else None


def with_deadline(
    test: Callable[..., Awaitable[Any]], seconds: float
) -> Callable[..., Awaitable[Any]]:
    """``test`` cancelled after ``seconds`` of its event loop, failing with a clear word."""

    @functools.wraps(test)
    async def bounded(*args: Any, **kwargs: Any) -> Any:
        deadline = asyncio.timeout(seconds)
        try:
            async with deadline:
                return await test(*args, **kwargs)
        except TimeoutError:
            if deadline.expired():
                pytest.fail(f"the test passed its {seconds:.0f} s deadline (see the traceback)")
            raise

    return bounded
