"""Paging through klines, marking REST rows final, and spreading streams over connections."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from marketcast.domain.candles import Candle, TimeRange
from marketcast.domain.intervals import Interval
from marketcast.exchanges.binance.paging import (
    MAX_KLINES_PER_CALL,
    mark_closed,
    merge_pages,
    next_page_start,
    previous_page_end,
    range_end_time,
)
from marketcast.exchanges.binance.partition import (
    assign,
    combined_url,
    partition,
    request_batches,
    split_for_url,
)

MINUTE = Interval.parse("1m")
MONTH = Interval.parse("1M")
T0 = 1_700_000_040_000  # a minute boundary


def candle(open_time: int, trades: int = 1) -> Candle:
    return Candle(open_time, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, trades, False)


def binance_klines(
    available: list[int], *, start: int | None, end: int | None, limit: int
) -> list[Candle]:
    """Binance's documented selection: oldest from startTime, else newest up to endTime."""
    rows = [t for t in available if (start is None or t >= start) and (end is None or t <= end)]
    chosen = rows[:limit] if start is not None else rows[-limit:]
    return [candle(t) for t in chosen]


series = st.tuples(
    st.integers(0, 3500), st.sets(st.integers(0, 3500), max_size=200), st.integers(0, 3500)
)


@given(series, st.integers(0, 3500))
def test_forward_paging_returns_exactly_the_range(spec: tuple[int, set[int], int], n: int) -> None:
    length, holes, first_index = spec
    available = [T0 + i * 60_000 for i in range(length) if i not in holes]
    rng = TimeRange(T0 + first_index * 60_000, T0 + (first_index + n) * 60_000)
    end_time = range_end_time(rng, MINUTE)
    pages: list[list[Candle]] = []
    start: int | None = rng.first
    calls = 0
    while start is not None and start <= rng.last:
        page = binance_klines(available, start=start, end=end_time, limit=MAX_KLINES_PER_CALL)
        calls += 1
        pages.append(page)
        start = next_page_start(page, MINUTE)
    got = [c.open_time for c in merge_pages(pages, rng)]
    assert got == [t for t in available if rng.contains(t)]
    assert calls <= len(got) // MAX_KLINES_PER_CALL + 2


@given(st.integers(1, 3500), st.integers(0, 3500))
def test_backward_paging_reaches_the_newest_count(count: int, length: int) -> None:
    available = [T0 + i * 60_000 for i in range(length)]
    pages: list[list[Candle]] = []
    end: int | None = None
    have = 0
    while have < count:
        page = binance_klines(
            available, start=None, end=end, limit=min(count - have, MAX_KLINES_PER_CALL)
        )
        if not page:
            break
        pages.append(page)
        have += len(page)
        end = previous_page_end(page)
    got = [c.open_time for c in merge_pages(reversed(pages))]
    assert got == available[-count:] if available else got == []


def test_page_helpers_on_empty_pages() -> None:
    assert next_page_start([], MINUTE) is None
    assert previous_page_end([]) is None


def test_next_page_start_follows_calendar_months() -> None:
    jan_2024 = 1_704_067_200_000
    assert next_page_start([candle(jan_2024)], MONTH) == 1_706_745_600_000  # 1 Feb 2024


def test_merge_pages_keeps_the_later_version_of_a_repeated_row() -> None:
    merged = merge_pages([[candle(T0, 1)], [candle(T0, 5), candle(T0 + 60_000)]])
    assert [(c.open_time, c.trades) for c in merged] == [(T0, 5), (T0 + 60_000, 1)]


@given(st.integers(0, 50), st.integers(-2, 60))
def test_closed_iff_close_time_before_the_cutoff(length: int, cutoff_index: int) -> None:
    rows = [candle(T0 + i * 60_000) for i in range(length)]
    closed_before = T0 + cutoff_index * 60_000
    marked = mark_closed(rows, MINUTE, closed_before)
    assert [c.closed for c in marked] == [
        MINUTE.close_time(c.open_time) < closed_before for c in rows
    ]


@given(st.integers(0, 50))
def test_without_a_cutoff_only_the_newest_row_is_forming(length: int) -> None:
    rows = [candle(T0 + i * 60_000) for i in range(length)]
    marked = mark_closed(rows, MINUTE, None)
    assert [c.closed for c in marked] == [True] * (length - 1) + [False] * min(length, 1)


names = st.sets(st.from_regex(r"[a-z]{3,8}usdt@kline_1m", fullmatch=True), max_size=300)


@given(names, st.integers(1, 100))
def test_partition_places_every_stream_once_within_the_cap(streams: set[str], cap: int) -> None:
    groups = partition(streams, cap)
    assert all(0 < len(g) <= cap for g in groups)
    assert Counter(s for g in groups for s in g) == Counter(streams)
    assert len(groups) == -(-len(streams) // cap)


@given(names, st.lists(st.integers(0, 60), max_size=5), st.integers(1, 60))
def test_assign_fills_room_first_and_never_overfills(
    streams: set[str], loads: list[int], cap: int
) -> None:
    additions, groups = assign(streams, loads, cap)
    assert len(additions) == len(loads)
    for load, added in zip(loads, additions, strict=True):
        assert load + len(added) <= max(cap, load)
    placed = [s for a in additions for s in a] + [s for g in groups for s in g]
    assert Counter(placed) == Counter(streams)
    if groups:  # new connections only once every existing one is full
        assert all(load + len(a) >= cap for load, a in zip(loads, additions, strict=True))


@given(names, st.integers(10, 3000))
def test_url_names_what_fits_and_the_rest_is_subscribed(streams: set[str], budget: int) -> None:
    in_url, rest = split_for_url(streams, budget)
    assert len("/".join(in_url)) <= budget
    assert sorted(in_url + rest) == sorted(streams)


def test_long_stream_lists_keep_the_url_short() -> None:
    streams = {f"sym{i:04d}usdt@kline_1m" for i in range(1024)}
    in_url, rest = split_for_url(streams)
    url = combined_url("ws://127.0.0.1:9/", in_url)
    assert len(url) < 2000
    assert url.startswith("ws://127.0.0.1:9/stream?streams=")
    batches = request_batches(rest)
    assert all(len(b) <= 200 for b in batches)
    assert sum(len(b) for b in batches) == len(rest)


def test_empty_url_connects_to_bare_stream_endpoint() -> None:
    assert (
        combined_url("wss://stream.binance.com:9443", []) == "wss://stream.binance.com:9443/stream"
    )
