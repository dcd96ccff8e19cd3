"""Fan-out's share of an event-loop turn (marketcast.hub.turns)."""

from __future__ import annotations

import asyncio
import time

from marketcast.hub.turns import TurnBudget


def busy(seconds: float) -> None:
    """Hold the loop, as a long fan-out does."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def test_the_share_is_spent_within_a_turn_and_renewed_by_the_next() -> None:
    turns = TurnBudget(budget_s=0.001)
    assert not turns.spent()  # the turn's first call starts its clock
    busy(0.002)
    assert turns.spent()
    assert turns.spent()  # still the same turn
    await asyncio.sleep(0)  # the next turn
    assert not turns.spent()


async def test_tasks_that_yield_when_it_is_spent_let_other_work_in_between() -> None:
    turns = TurnBudget(budget_s=0.001)
    order: list[str] = []

    async def publisher(name: str) -> None:
        for _ in range(3):
            if turns.spent():
                await asyncio.sleep(0)
            busy(0.002)  # one topic's fan-out, longer than the whole share
            order.append(name)

    async def request() -> None:
        await asyncio.sleep(0)  # arrives once the publishers are under way
        order.append("request")

    await asyncio.gather(publisher("a"), publisher("b"), request())
    # Without the budget both publishers would run all their fan-out first.
    assert order.index("request") < len(order) - 1
    assert order.count("a") == order.count("b") == 3


def test_a_budget_left_timing_a_closed_loop_starts_afresh_on_a_new_one() -> None:
    turns = TurnBudget(budget_s=0.001)

    async def use_and_hold() -> None:
        turns.spent()
        busy(0.002)

    asyncio.run(use_and_hold())  # the loop closes before the turn's end is seen

    async def first_call() -> bool:
        return turns.spent()

    assert asyncio.run(first_call()) is False
