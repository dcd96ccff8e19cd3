"""The node's liveness tick: every session checked each tick, a slice per loop turn."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from marketcast.api.transport.sockets import HEARTBEAT_SLICE, Heartbeat


class Session:
    """Counts the checks it gets; ``Heartbeat`` needs nothing else of a session."""

    def __init__(self, number: int) -> None:
        self.id = number
        self.checks = 0
        self._cleanups: list[Callable[[], None]] = []

    def on_close(self, cleanup: Callable[[], None]) -> Callable[[], None]:
        self._cleanups.append(cleanup)
        return cleanup

    def check_liveness(self, now: float) -> None:
        self.checks += 1

    def close(self) -> None:
        for cleanup in self._cleanups:
            cleanup()


async def test_a_tick_checks_every_session_and_yields_to_the_loop_between_slices() -> None:
    heartbeat = Heartbeat(tick_s=0.01)
    sessions = [Session(n) for n in range(2 * HEARTBEAT_SLICE + 3)]
    for session in sessions:
        heartbeat.add(session)
    checked_per_turn: list[int] = []
    async with asyncio.timeout(10):
        before = 0
        while not all(session.checks for session in sessions):
            await asyncio.sleep(0)  # one turn of the loop
            checked = sum(1 for session in sessions if session.checks)
            checked_per_turn.append(checked - before)
            before = checked
    assert max(checked_per_turn) <= HEARTBEAT_SLICE
    assert sum(checked_per_turn) == len(sessions)


async def test_ticks_go_on_for_the_sessions_left_and_start_again_after_none_were() -> None:
    heartbeat = Heartbeat(tick_s=0.01)
    gone, staying = Session(1), Session(2)
    for session in (gone, staying):
        heartbeat.add(session)
    gone.close()
    async with asyncio.timeout(10):
        while staying.checks < 3:
            await asyncio.sleep(0.01)
    assert gone.checks == 0
    staying.close()
    assert len(heartbeat) == 0
    newcomer = Session(3)
    heartbeat.add(newcomer)
    async with asyncio.timeout(10):
        while newcomer.checks < 2:
            await asyncio.sleep(0.01)
