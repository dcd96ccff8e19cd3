"""History paging: backwards with ``before``, joined without a gap or a repeat."""

from __future__ import annotations

from datetime import UTC, datetime

from marketcast.client import Candle
from marketcast.client.paging import HistoryPager, to_seconds


def hub(times: list[int], params: dict[str, int]) -> list[Candle]:
    """What the hub answers: the newest ``limit`` opening before ``before``."""
    before = params.get("before")
    older = [t for t in times if before is None or t < before]
    return [Candle(t, 1.0, 1.0, 1.0, 1.0, 1.0, closed=True) for t in older[-params["limit"] :]]


def read(times: list[int], pager: HistoryPager) -> tuple[list[int], list[dict[str, int]]]:
    asked = []
    while not pager.done:
        params = pager.next_request()
        asked.append(params)
        pager.take(hub(times, params))
    return [c.time for c in pager.candles()], asked


TIMES = [60 * i for i in range(1, 101)]  # 100 candles, 60 .. 6000


def test_a_range_is_read_backwards_page_by_page_to_its_start() -> None:
    got, asked = read(TIMES, HistoryPager(start=600, end=3000, page_size=10))
    assert got == list(range(600, 3000, 60))
    assert asked[0] == {"limit": 10, "before": 3000}
    assert asked[1] == {"limit": 10, "before": 2400}  # the previous page's oldest
    assert len(asked) == 4


def test_the_newest_limit_candles_without_a_start() -> None:
    got, asked = read(TIMES, HistoryPager(limit=25, page_size=10))
    assert got == TIMES[-25:]
    assert [p["limit"] for p in asked] == [10, 10, 5]
    assert "before" not in asked[0]


def test_a_short_page_means_the_hub_has_nothing_older() -> None:
    got, asked = read(TIMES, HistoryPager(start=0, page_size=30))
    assert got == TIMES
    assert len(asked) == 4  # 30, 30, 30, then 10 < 30
    got, _ = read(TIMES, HistoryPager(start=0, page_size=50))
    assert got == TIMES  # an exact last page is followed by an empty one


def test_without_start_or_limit_the_hub_default_applies() -> None:
    pager = HistoryPager()
    assert pager.limit == 500


def test_an_empty_or_inverted_range_asks_nothing() -> None:
    assert read(TIMES, HistoryPager(start=600, end=600))[1] == []
    assert read(TIMES, HistoryPager(limit=0))[1] == []


def test_a_hub_that_ignores_before_cannot_loop() -> None:
    pager = HistoryPager(start=0, end=6060, page_size=10)
    answer = hub(TIMES, {"limit": 10})
    pager.next_request()
    pager.take(answer)
    pager.next_request()
    pager.take(answer)  # the same page again: no progress
    assert pager.done
    assert [c.time for c in pager.candles()] == TIMES[-10:]


def test_times_are_seconds_milliseconds_or_datetimes() -> None:
    assert to_seconds(1_714_572_000) == 1_714_572_000
    assert to_seconds(1_714_572_000_123) == 1_714_572_000
    assert to_seconds(datetime(2024, 5, 1, 14, 0, tzinfo=UTC)) == 1_714_572_000
    assert to_seconds(datetime(2024, 5, 1, 14, 0)) == 1_714_572_000  # naive is UTC
