"""The connection-sized Event and Queue (marketcast.api.transport.light)."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Callable

from marketcast.api.transport import light


async def test_an_event_wakes_every_waiter_and_stays_set_until_cleared() -> None:
    event = light.Event()
    woken: list[int] = []

    async def waiter(number: int) -> None:
        await event.wait()
        woken.append(number)

    tasks = [asyncio.create_task(waiter(n)) for n in range(3)]
    await asyncio.sleep(0)  # all three wait
    assert not event.is_set()
    assert woken == []
    event.set()
    await asyncio.gather(*tasks)
    assert woken == [0, 1, 2]
    assert await event.wait()  # set: returns at once
    event.clear()
    assert not event.is_set()


async def test_a_cancelled_wait_leaves_nothing_behind() -> None:
    event = light.Event()
    task = asyncio.create_task(event.wait())
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    event.set()  # wakes no one, raises nothing
    assert event.is_set()


async def test_a_queue_hands_items_out_in_order_one_to_each_getter() -> None:
    queue: light.Queue[int] = light.Queue()
    getters = [asyncio.create_task(queue.get()) for _ in range(3)]
    await asyncio.sleep(0)
    for item in (1, 2, 3):
        queue.put_nowait(item)
    assert sorted(await asyncio.gather(*getters)) == [1, 2, 3]
    queue.put_nowait(4)
    queue.put_nowait(5)
    assert queue.qsize() == 2
    assert not queue.empty()
    assert [await queue.get(), await queue.get()] == [4, 5]
    assert queue.empty()
    assert queue.qsize() == 0


async def test_a_getter_cancelled_after_its_wake_passes_the_item_on() -> None:
    queue: light.Queue[str] = light.Queue()
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("only")  # wakes the first getter...
    first.cancel()  # ...which is cancelled before it runs
    assert await asyncio.wait_for(second, 5) == "only"
    assert first.cancelled()


def allocated_each(make: Callable[[], object]) -> float:
    """Bytes of Python heap one ``make()`` holds, over a thousand of them."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [make() for _ in range(1000)]
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return (after - before) / 1000


def test_idle_ones_hold_a_fraction_of_what_asyncios_do() -> None:
    ours = allocated_each(lambda: (light.Queue[int](), light.Event()))
    theirs = allocated_each(lambda: (asyncio.Queue[int](), asyncio.Event()))
    assert ours * 4 < theirs
