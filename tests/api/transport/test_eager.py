"""Running a send in place, and finishing it in a task when it had to wait."""

from __future__ import annotations

import asyncio

import pytest

from marketcast.api.transport import eager


async def test_a_coroutine_that_never_waits_runs_to_its_end_in_place() -> None:
    done: list[str] = []

    async def write() -> None:
        done.append("written")

    assert eager.start(write()) is eager.DONE
    assert done == ["written"]


async def test_one_that_waits_is_finished_later_and_sees_the_outcome() -> None:
    writable: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def write() -> None:
        seen.append(await writable)
        await asyncio.sleep(0)  # a bare yield on the way
        seen.append("written")

    suspended = eager.start(write())
    assert isinstance(suspended, tuple)
    assert seen == []
    finishing = asyncio.create_task(eager.finish(suspended))
    await asyncio.sleep(0)
    assert not finishing.done()
    writable.set_result("drained")
    await asyncio.wait_for(finishing, 1)
    assert seen == ["drained", "written"]


async def test_an_error_in_what_it_waits_on_is_raised_inside_it() -> None:
    writable: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def write() -> None:
        await writable

    suspended = eager.start(write())
    assert isinstance(suspended, tuple)
    writable.set_exception(ConnectionResetError("gone"))
    with pytest.raises(ConnectionResetError):
        await eager.finish(suspended)


async def test_cancelling_the_finisher_closes_the_coroutine() -> None:
    writable: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    closed: list[bool] = []

    async def write() -> None:
        try:
            await writable
        except GeneratorExit:
            closed.append(True)
            raise

    suspended = eager.start(write())
    assert isinstance(suspended, tuple)
    finishing = asyncio.create_task(eager.finish(suspended))
    await asyncio.sleep(0)
    finishing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await finishing
    assert closed == [True]
