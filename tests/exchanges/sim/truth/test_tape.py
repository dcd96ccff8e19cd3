"""The seeded tape: every level aggregates exactly, forming candles grow, seeds repeat."""

from __future__ import annotations

import hashlib
import itertools
import subprocess
import sys
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketcast.domain.intervals import DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, Interval
from marketcast.exchanges.sim import LISTED_SYMBOLS, Downtime, GroundTruth, Kline, Tape
from marketcast.exchanges.sim.truth.bars import Bar, bar_of_trades, merge

START_MS = 1_714_521_600_000 + 13 * HOUR_MS + 7 * MINUTE_MS  # 2024-05-01 13:07 UTC
TAPE = Tape(seed=11, symbols=LISTED_SYMBOLS, anchor_ms=START_MS)
TRUTH = GroundTruth(TAPE)
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

symbols = st.sampled_from(LISTED_SYMBOLS)
days_back = st.integers(min_value=1, max_value=29)


def iv(code: str) -> Interval:
    return Interval.parse(code)


def closed_kline(symbol: str, code: str, open_ms: int) -> Kline:
    found = TRUTH.kline(symbol, iv(code), open_ms, START_MS)
    assert found is not None
    assert found.closed
    return found


def children(symbol: str, code: str, parent: Kline) -> list[Kline]:
    interval = iv(code)
    opens = interval.open_times(parent.open_time, parent.close_time)
    return [closed_kline(symbol, code, t) for t in opens]


def assert_aggregates(parent: Kline, parts: Sequence[Kline]) -> None:
    assert parent.bar == merge([p.bar for p in parts])


@FAST
@given(symbol=symbols, back=days_back, hour=st.integers(0, 23))
def test_an_hour_is_exactly_its_minutes_and_quarters(symbol: str, back: int, hour: int) -> None:
    day = (START_MS // DAY_MS - back) * DAY_MS
    one_hour = closed_kline(symbol, "1h", day + hour * HOUR_MS)
    assert_aggregates(one_hour, children(symbol, "1m", one_hour))
    assert_aggregates(one_hour, children(symbol, "15m", one_hour))
    assert_aggregates(one_hour, children(symbol, "3m", one_hour))


@FAST
@given(symbol=symbols, back=days_back)
def test_a_day_is_exactly_its_hours_and_its_4h_candles(symbol: str, back: int) -> None:
    day = closed_kline(symbol, "1d", (START_MS // DAY_MS - back) * DAY_MS)
    assert_aggregates(day, children(symbol, "1h", day))
    assert_aggregates(day, children(symbol, "4h", day))
    assert_aggregates(day, children(symbol, "12h", day))


@FAST
@given(symbol=symbols, minute=st.integers(0, 24 * 60 - 1), back=days_back)
def test_a_minute_is_its_seconds_and_a_second_its_trades(
    symbol: str, minute: int, back: int
) -> None:
    one_minute = closed_kline(
        symbol, "1m", (START_MS // DAY_MS - back) * DAY_MS + minute * MINUTE_MS
    )
    seconds = children(symbol, "1s", one_minute)
    assert_aggregates(one_minute, seconds)
    for second in seconds[:5]:
        trades = TAPE.trades(symbol, second.open_time)
        assert bar_of_trades(second.open_time, trades) == second.bar
        assert [t.trade_id for t in trades] == list(
            range(second.bar.first_id, second.last_trade_id + 1)
        )
        assert all(second.open_time <= t.time < second.close_time + 1 for t in trades)
        assert [t.time for t in trades] == sorted(t.time for t in trades)


@pytest.mark.parametrize("symbol", ["BTCUSDT", "DOGEUSDT", "LINKUSDT"])
@pytest.mark.parametrize("code", ["3d", "1w", "1M"])
def test_multi_day_candles_are_exactly_their_days(symbol: str, code: str) -> None:
    last = iv(code).prev_open(iv(code).floor(START_MS))
    for open_ms in (last, iv(code).prev_open(last)):
        candle = closed_kline(symbol, code, open_ms)
        assert_aggregates(candle, children(symbol, "1d", candle))


@FAST
@given(symbol=symbols, back=st.integers(2, 200))
def test_trade_ids_count_every_trade_since_listing(symbol: str, back: int) -> None:
    day = max(TAPE.listing_ms(symbol), (START_MS // DAY_MS - back) * DAY_MS)
    first, second = closed_kline(symbol, "1d", day), closed_kline(symbol, "1d", day + DAY_MS)
    assert second.bar.first_id == first.last_trade_id + 1
    listing_day = closed_kline(symbol, "1d", TAPE.listing_ms(symbol))
    assert listing_day.bar.first_id == 0


@FAST
@given(
    symbol=symbols,
    code=st.sampled_from(["1s", "1m", "5m", "1h", "1d", "1M"]),
    fractions=st.lists(st.floats(0, 1), min_size=2, max_size=6),
)
def test_a_forming_candle_only_grows_and_ends_as_the_final(
    symbol: str, code: str, fractions: list[float]
) -> None:
    interval = iv(code)
    open_ms = interval.prev_open(interval.floor(START_MS))
    close_ms = interval.close_time(open_ms)
    nows = sorted(open_ms + int(f * (close_ms - open_ms)) for f in fractions)
    seen: list[Bar] = []
    for now in nows:
        forming = TRUTH.kline(symbol, interval, open_ms, now)
        assert forming is not None
        assert not forming.closed
        seen.append(forming.bar)
    for earlier, later in itertools.pairwise(seen):
        assert later.trades >= earlier.trades
        assert later.volume >= earlier.volume
        assert later.high >= earlier.high
        assert later.low <= earlier.low
        assert later.open == earlier.open
    at_close = TRUTH.kline(symbol, interval, open_ms, close_ms)
    final = TRUTH.kline(symbol, interval, open_ms, close_ms + 1)
    assert at_close is not None
    assert final is not None
    assert final.closed
    assert at_close.bar == final.bar


def test_the_forming_candle_at_its_first_millisecond_has_one_trade() -> None:
    open_ms = iv("1m").floor(START_MS)
    forming = TRUTH.kline("BTCUSDT", iv("1m"), open_ms, open_ms)
    assert forming is not None
    assert forming.bar.trades == 1


def digest(tape: Tape) -> str:
    truth = GroundTruth(tape)
    rows = []
    for code in ("1m", "1h", "1d", "1M"):
        rows += truth.page("ETHUSDT", iv(code), START_MS, 50)
    rows += truth.page("SOLUSDT", iv("1s"), START_MS, 50)
    return hashlib.sha256(repr([k.bar for k in rows]).encode()).hexdigest()


def test_the_same_seed_gives_the_same_tape_in_another_instance_and_process() -> None:
    here = digest(Tape(seed=3, symbols=LISTED_SYMBOLS, anchor_ms=START_MS))
    again = digest(Tape(seed=3, symbols=LISTED_SYMBOLS, anchor_ms=START_MS))
    assert here == again
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from test_tape import digest, START_MS, LISTED_SYMBOLS, Tape;"
        "print(digest(Tape(seed=3, symbols=LISTED_SYMBOLS, anchor_ms=START_MS)))"
    )
    folder = str(__import__("pathlib").Path(__file__).parent)
    other = subprocess.run(
        [sys.executable, "-c", script, folder], capture_output=True, text=True, check=True
    )
    assert other.stdout.strip() == here
    assert digest(Tape(seed=4, symbols=LISTED_SYMBOLS, anchor_ms=START_MS)) != here


def test_nothing_exists_before_listing() -> None:
    listing = TAPE.listing_ms("SUIUSDT")
    assert listing == (START_MS // DAY_MS - 90) * DAY_MS
    days = TRUTH.page("SUIUSDT", iv("1d"), START_MS, 1000)
    assert days[0].open_time == listing
    assert len(days) == 91
    assert TRUTH.klines("SUIUSDT", iv("1h"), listing - DAY_MS, listing - 1, START_MS) == []
    week = TRUTH.page("SUIUSDT", iv("1w"), START_MS, 1000)[0]
    assert week.open_time <= listing < week.close_time
    assert week.bar.first_id == 0


def test_default_symbols_have_three_years_of_daily_history() -> None:
    for symbol in LISTED_SYMBOLS[:10]:
        assert len(TRUTH.page(symbol, iv("1d"), START_MS, 1000)) == 1000
        assert TAPE.listing_ms(symbol) <= START_MS - 1100 * DAY_MS


def test_candles_wholly_inside_a_downtime_do_not_exist() -> None:
    down_from = iv("1h").floor(START_MS) - 3 * HOUR_MS + 30 * MINUTE_MS
    window = Downtime(down_from, down_from + 2 * HOUR_MS)
    truth = GroundTruth(TAPE, (window,))
    minutes = truth.klines("BTCUSDT", iv("1m"), down_from - 5 * MINUTE_MS, START_MS, START_MS)
    opens = {k.open_time for k in minutes}
    inside = set(iv("1m").open_times(window.start_ms, window.end_ms - MINUTE_MS))
    assert not opens & inside
    assert len(minutes) == len(
        list(iv("1m").open_times(down_from - 5 * MINUTE_MS, START_MS))
    ) - len(inside)
    hours = truth.klines("BTCUSDT", iv("1h"), down_from - 30 * MINUTE_MS, START_MS, START_MS)
    hour_opens = [c.open_time for c in hours]
    swallowed = iv("1h").floor(down_from) + HOUR_MS
    assert swallowed not in hour_opens
    assert iv("1h").floor(down_from) in hour_opens  # partly down: kept with tape values
    kept = truth.candle("BTCUSDT", iv("1h"), iv("1h").floor(down_from), START_MS)
    assert kept == TRUTH.candle("BTCUSDT", iv("1h"), iv("1h").floor(down_from), START_MS)


def test_candles_convert_to_domain_candles_as_a_wire_parser_would() -> None:
    kline = closed_kline("BTCUSDT", "1h", iv("1h").floor(START_MS) - HOUR_MS)
    candle = TRUTH.to_candle(kline)
    spec = TAPE.spec("BTCUSDT")
    assert candle.open == float(f"{kline.bar.open / 10**spec.price_decimals:.2f}")
    assert candle.trades == kline.bar.trades
    assert candle.closed
    assert TRUTH.candle("BTCUSDT", iv("1h"), kline.open_time, START_MS) == candle
    assert TRUTH.candle("BTCUSDT", iv("1h"), kline.open_time + 1, START_MS) is None


def test_second_boundaries_are_aligned_for_every_level() -> None:
    assert SECOND_MS == 1000
    bar = TAPE.bar("BTCUSDT", 5, iv("1s").floor(START_MS) - 5000)
    assert bar.open_time % SECOND_MS == 0
