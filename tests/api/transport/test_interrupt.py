"""Awaiting in the current task until another task ends (marketcast.api.transport.interrupt)."""

from __future__ import annotations

import asyncio

import pytest

from marketcast.api.transport.interrupt import until_done

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(30)]


async def forever(started: asyncio.Event) -> None:
    started.set()
    await asyncio.Event().wait()


async def test_the_other_ending_first_interrupts_the_body_and_returns() -> None:
    other_may_end = asyncio.Event()
    other = asyncio.create_task(other_may_end.wait())
    started = asyncio.Event()

    async def reader() -> str:
        await until_done(other, forever(started))
        await asyncio.sleep(0)  # no cancellation is left pending on the task
        return "returned"

    reading = asyncio.create_task(reader())
    await started.wait()
    other_may_end.set()
    assert await reading == "returned"
    assert reading.cancelling() == 0


async def test_an_other_already_done_interrupts_at_the_first_wait() -> None:
    other = asyncio.create_task(asyncio.sleep(0))
    await other
    started = asyncio.Event()
    await until_done(other, forever(started))
    assert started.is_set()


async def test_once_the_body_is_done_the_others_end_cancels_nothing() -> None:
    other_may_end = asyncio.Event()
    other = asyncio.create_task(other_may_end.wait())

    async def body() -> None:
        await asyncio.sleep(0)

    await until_done(other, body())
    other_may_end.set()
    await other
    await asyncio.sleep(0.01)  # would raise CancelledError had the task been cancelled
    assert not other.cancelled()


async def test_a_cancellation_from_outside_goes_on() -> None:
    other = asyncio.create_task(asyncio.Event().wait())
    started = asyncio.Event()
    reading = asyncio.create_task(until_done(other, forever(started)))
    await started.wait()
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    other.cancel()


async def test_a_cancellation_from_outside_goes_on_when_the_other_ends_too() -> None:
    other_may_end = asyncio.Event()
    other = asyncio.create_task(other_may_end.wait())
    started = asyncio.Event()
    reading = asyncio.create_task(until_done(other, forever(started)))
    await started.wait()
    reading.cancel()
    other_may_end.set()  # its callback runs before the reading task unwinds
    await other
    with pytest.raises(asyncio.CancelledError):
        await reading
