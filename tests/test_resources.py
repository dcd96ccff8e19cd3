"""``cancel_and_wait`` stops a task without hiding a cancellation aimed at the caller;
``close_together`` overlaps independent closes."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from marketcast.resources import cancel_and_wait, close_together


async def _slow_to_die(cleanup_s: float) -> None:
    try:
        await asyncio.sleep(3600)
    finally:
        await asyncio.sleep(cleanup_s)  # e.g. a close handshake on the way out


async def test_the_tasks_own_cancellation_stays_inside() -> None:
    task = asyncio.create_task(_slow_to_die(0))
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.cancelled()


async def test_a_crash_of_the_task_stays_inside() -> None:
    async def crash() -> None:
        raise RuntimeError("bug")

    task = asyncio.create_task(crash())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert isinstance(task.exception(), RuntimeError)


async def test_a_deadline_on_the_caller_still_fires() -> None:
    # The caller's own timeout must surface as TimeoutError even while it waits for a
    # task that takes its time to die; swallowing it let shutdown steps overrun.
    task = asyncio.create_task(_slow_to_die(0.5))
    await asyncio.sleep(0)
    finished: list[bool] = []

    async def bounded_step() -> None:
        async with asyncio.timeout(0.05):
            await cancel_and_wait(task)
            finished.append(True)

    with pytest.raises(TimeoutError):
        await bounded_step()
    assert not finished
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_cancel_and_wait_ends_a_task_that_swallowed_a_cancellation() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # as redis-py sometimes does inside a command

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    async with asyncio.timeout(5):
        await cancel_and_wait(task)
    assert (task.cancelled(), swallowed) == (True, 1)


async def test_cancel_and_wait_gives_up_after_its_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def deaf() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()

    task = asyncio.create_task(deaf(), name="deaf")
    await asyncio.sleep(0)
    async with asyncio.timeout(5):
        await cancel_and_wait(task, deadline_s=0.2)
    assert not task.done()
    assert "deaf ignored cancellation" in caplog.text
    release.set()
    async with asyncio.timeout(5):
        await task


async def test_the_first_cancel_lets_the_task_clean_up() -> None:
    # Cancelling the cleanup too (closing a socket in a finally) would leave the socket
    # to the garbage collector: an unclosed-socket ResourceWarning, a leaked descriptor.
    cleaned: list[bool] = []

    async def closes_on_the_way_out() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0.3)  # a close handshake
            cleaned.append(True)

    task = asyncio.create_task(closes_on_the_way_out())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert cleaned == [True]


async def test_close_together_overlaps_the_closes() -> None:
    # Each close waits for all of them to have begun: awaited one by one, it deadlocks.
    barrier = asyncio.Barrier(3)
    ended: list[int] = []

    async def close(n: int) -> None:
        await barrier.wait()
        ended.append(n)

    async with asyncio.timeout(5):  # a deadlock detector, not a speed claim
        await close_together(close(1), close(2), close(3))
    assert sorted(ended) == [1, 2, 3]


async def test_close_together_finishes_every_close_before_raising_the_first_failure() -> None:
    ended: list[str] = []

    async def failing() -> None:
        raise RuntimeError("store gone")

    async def slow() -> None:
        await asyncio.sleep(0.01)
        ended.append("slow")

    with pytest.raises(RuntimeError, match="store gone"):
        await close_together(failing(), slow())
    assert ended == ["slow"]
