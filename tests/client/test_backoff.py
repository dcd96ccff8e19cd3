"""Reconnect delays: exponential, capped, jittered, reset on success."""

from __future__ import annotations

from marketcast.client.backoff import Backoff


def upper(low: float, high: float) -> float:
    return high


def lower(low: float, high: float) -> float:
    return low


def test_delays_double_up_to_the_cap() -> None:
    backoff = Backoff(first=0.5, cap=4.0, uniform=upper)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_jitter_stays_in_the_upper_half_so_delays_still_grow() -> None:
    backoff = Backoff(first=0.5, cap=4.0, uniform=lower)
    assert [backoff.next_delay() for _ in range(4)] == [0.25, 0.5, 1.0, 2.0]
    real = Backoff(first=1.0, cap=8.0)
    for ceiling in (1.0, 2.0, 4.0, 8.0, 8.0):
        assert ceiling / 2 <= real.next_delay() <= ceiling


def test_a_reset_starts_over_from_the_first_delay() -> None:
    backoff = Backoff(first=0.5, cap=30.0, uniform=upper)
    for _ in range(10):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_a_long_outage_does_not_overflow() -> None:
    backoff = Backoff(first=0.5, cap=30.0, uniform=upper)
    for _ in range(5000):
        delay = backoff.next_delay()
    assert delay == 30.0
