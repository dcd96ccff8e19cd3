"""Weight budget, backoff and control-message pacing keep marketcast within Binance's limits."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketcast.exchanges.binance import Backoff, MessagePacer, WeightBudget

requests = st.lists(
    st.tuples(st.floats(0, 5, allow_nan=False), st.integers(1, 50)), min_size=1, max_size=300
)


@given(requests, st.integers(100, 6000), st.floats(0, 10_000, allow_nan=False))
def test_budget_never_lets_a_minute_exceed_the_safety_ceiling(
    spends: list[tuple[float, int]], limit: int, start: float
) -> None:
    budget = WeightBudget(limit)
    now = start
    per_minute: defaultdict[int, int] = defaultdict(int)
    for gap, weight in spends:
        now += gap
        while (delay := budget.delay_for(weight, now)) > 0:
            now += delay
        budget.reserve(weight, now)
        per_minute[int(now // 60)] += weight
    assert max(per_minute.values()) <= budget.ceiling


@given(st.integers(0, 6000), st.floats(0, 59.9, allow_nan=False))
def test_reported_weight_counts_against_the_budget(used: int, second: float) -> None:
    budget = WeightBudget(6000)
    budget.record_used(used, second)
    expected_free = used + 2 <= 5400
    assert (budget.delay_for(2, second) == 0) == expected_free
    # A new minute starts from zero again.
    assert budget.delay_for(2, 60.0) == 0


def test_full_budget_waits_for_the_next_minute() -> None:
    budget = WeightBudget(100, safety=0.9)
    budget.reserve(90, 120.0)
    assert budget.delay_for(1, 130.0) == pytest.approx(50.05)


def test_a_share_of_the_budget_stops_at_its_part_of_the_ceiling() -> None:
    budget = WeightBudget(100, safety=0.9)  # ceiling 90; half of it is 45
    budget.reserve(40, 120.0)
    assert budget.delay_within(5, 0.5, 121.0) == 0
    assert budget.delay_within(6, 0.5, 121.0) == pytest.approx(59.05)
    assert budget.delay_for(6, 121.0) == 0  # the live feeds still have their room
    budget.on_rate_limited(30, 121.0)
    assert budget.delay_within(1, 0.5, 121.0) == pytest.approx(30)
    assert budget.delay_within(6, 0.5, 180.0) == 0  # a new minute


def test_oversized_request_still_goes_when_the_minute_is_empty() -> None:
    budget = WeightBudget(10)
    assert budget.delay_for(50, 0.0) == 0


@given(st.floats(0, 600, allow_nan=False), st.floats(0, 1000, allow_nan=False))
def test_rate_limit_blocks_everyone_until_retry_after(retry_after: float, now: float) -> None:
    budget = WeightBudget()
    budget.on_rate_limited(retry_after, now)
    if retry_after > 0:
        assert budget.delay_for(1, now) == pytest.approx(retry_after)
    assert budget.delay_for(1, now + retry_after) == 0
    assert budget.blocked_for(now + retry_after) == 0


def test_a_later_shorter_block_does_not_shorten_a_ban() -> None:
    budget = WeightBudget()
    budget.on_rate_limited(120, 0.0)
    budget.on_rate_limited(1, 10.0)
    assert budget.blocked_for(10.0) == pytest.approx(110)


@given(st.floats(0.01, 5), st.floats(5, 100), st.integers(0, 2**32), st.integers(1, 200))
def test_backoff_delays_stay_within_the_capped_exponential(
    base: float, cap: float, seed: int, failures: int
) -> None:
    backoff = Backoff(base=base, cap=cap, rng=random.Random(seed))
    ceiling = 0.0
    for attempt in range(failures):
        assert backoff.ceiling() >= ceiling  # never shrinks while failures continue
        ceiling = backoff.ceiling()
        assert ceiling == pytest.approx(min(cap, base * 2 ** min(attempt, 64)))
        assert 0 <= backoff.next_delay() <= ceiling
    backoff.reset()
    assert backoff.ceiling() == pytest.approx(min(cap, base))


def test_backoff_jitter_is_reproducible_with_a_seed() -> None:
    first = Backoff(rng=random.Random(7))
    second = Backoff(rng=random.Random(7))
    assert [first.next_delay() for _ in range(5)] == [second.next_delay() for _ in range(5)]


def test_fresh_backoff_starts_over_with_the_same_policy() -> None:
    backoff = Backoff(base=1.0, cap=8.0)
    for _ in range(5):
        backoff.next_delay()
    fresh = backoff.fresh()
    assert (fresh.base, fresh.cap, fresh.attempts) == (1.0, 8.0, 0)


@given(st.lists(st.floats(0, 2, allow_nan=False), min_size=1, max_size=100), st.integers(1, 5))
def test_pacer_never_sends_more_than_allowed_per_second(gaps: list[float], cap: int) -> None:
    pacer = MessagePacer(max_messages=cap, per_seconds=1.0)
    now = 0.0
    sent: list[float] = []
    for gap in gaps:
        now += gap
        while (delay := pacer.delay_for(now)) > 0:
            now += delay
        pacer.record(now)
        sent.append(now)
    for i, t in enumerate(sent):
        in_window = [u for u in sent[i:] if u < t + 1.0]
        assert len(in_window) <= cap
