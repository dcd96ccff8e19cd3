"""Pure rules of the simulator: schedule grammar, weight limits, control requests, pushes."""

from __future__ import annotations

import orjson
import pytest

from marketcast.domain.intervals import MINUTE_MS, Interval
from marketcast.exchanges.sim import FaultAction, FaultSchedule, InvalidFaultSchedule, VirtualClock
from marketcast.exchanges.sim.wire.params import ApiError, parse_klines, parse_symbols
from marketcast.exchanges.sim.wire.spot import decimal_text
from marketcast.exchanges.sim.wire.streams import SessionState, handle_control
from marketcast.exchanges.sim.wire.weights import WeightLimiter
from marketcast.exchanges.sim.ws.cadence import Cursor, plan_push, start_cursor, stream_phase

LISTED = frozenset({"BTCUSDT", "ETHUSDT"})
M1 = Interval.parse("1m")


def test_schedule_parses_offsets_units_and_arguments_in_firing_order() -> None:
    schedule = FaultSchedule.parse(
        "downtime:180000@90s, drop@30s,stall:5@1m,rest_error:429:3:2@500ms,shutdown@2"
    )
    assert [(i.at_s, i.action) for i in schedule.items] == [
        (0.5, FaultAction("rest_error", (429.0, 3.0, 2.0))),
        (2.0, FaultAction("shutdown")),
        (30.0, FaultAction("drop")),
        (60.0, FaultAction("stall", (5.0,))),
        (90.0, FaultAction("downtime", (180000.0,))),
    ]
    assert FaultSchedule.parse(str(schedule)) == schedule
    assert FaultSchedule.parse("") == FaultSchedule()


@pytest.mark.parametrize(
    "text",
    ["drop", "explode@1s", "stall@1s", "drop:1@1s", "stall:x@1s", "rest_error:404@1s",
     "drop@-1s", "stall:-2@1s", "drop@soon", "delay:1@2s"],
)  # fmt: skip
def test_schedule_rejects_what_the_grammar_does_not_allow(text: str) -> None:
    with pytest.raises(InvalidFaultSchedule):
        FaultSchedule.parse(text)


def test_weight_limit_429_then_418_for_ignoring_the_backoff() -> None:
    limiter = WeightLimiter(10)
    now = 600.0  # start of a minute
    assert [limiter.charge(2, now).status for _ in range(5)] == [200] * 5
    backoff = limiter.charge(2, now + 1)
    assert (backoff.status, backoff.used, backoff.retry_after_s) == (429, 10, 59)
    assert limiter.charge(2, now + 2).status == 429  # ignored once: still a warning
    ban = limiter.charge(2, now + 3)
    assert ban.status == 418
    assert ban.retry_after_s >= 120
    assert limiter.charge(1, now + 100).status == 418  # banned across the minute


def test_weight_resets_each_minute_for_a_client_that_backs_off() -> None:
    limiter = WeightLimiter(4)
    assert limiter.charge(4, 60.0).status == 200
    assert limiter.charge(1, 61.0).status == 429
    assert limiter.charge(4, 120.0) == limiter.charge(0, 120.5)


def control(text: str, state: SessionState | None = None) -> tuple[dict[str, object], SessionState]:
    outcome = handle_control(text, state or SessionState(), LISTED, max_streams=3)
    return outcome.reply, outcome.state


def test_subscribe_list_unsubscribe_follow_binance_shapes() -> None:
    reply, state = control(
        '{"method":"SUBSCRIBE","params":["btcusdt@kline_1m","ethusdt@kline_1M"],"id":1}'
    )
    assert reply == {"result": None, "id": 1}
    reply, state = control('{"method":"LIST_SUBSCRIPTIONS","id":"a2"}', state)
    assert reply == {"result": ["btcusdt@kline_1m", "ethusdt@kline_1M"], "id": "a2"}
    reply, state = control('{"method":"UNSUBSCRIBE","params":["btcusdt@kline_1m"],"id":3}', state)
    assert reply == {"result": None, "id": 3}
    assert [s.name for s in state.streams] == ["ethusdt@kline_1M"]
    reply, state = control('{"method":"SET_PROPERTY","params":["combined",true],"id":4}', state)
    assert state.combined
    assert control('{"method":"GET_PROPERTY","params":["combined"],"id":5}', state)[0] == {
        "result": True,
        "id": 5,
    }


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", 3),
        ('{"params":[],"id":1}', 2),
        ('{"method":"SUBSCRIBE_ALL","id":1}', 2),
        ('{"method":"SUBSCRIBE","params":["dogeusdt@kline_1m"],"id":1}', 2),
        ('{"method":"SUBSCRIBE","params":["btcusdt@kline_2m"],"id":1}', 2),
        ('{"method":"SUBSCRIBE","params":["BTCUSDT@kline_1m"],"id":1}', 2),
        ('{"method":"SUBSCRIBE","params":"btcusdt@kline_1m","id":1}', 2),
        ('{"method":"SUBSCRIBE","params":[],"id":1.5}', 2),
        ('{"method":"SUBSCRIBE","params":["btcusdt@kline_1m","btcusdt@kline_3m",'
         '"btcusdt@kline_5m","btcusdt@kline_15m"],"id":1}', 2),
        ('{"method":"SET_PROPERTY","params":["combined","yes"],"id":1}', 1),
        ('{"method":"GET_PROPERTY","params":["compressed"],"id":1}', 0),
    ],
)  # fmt: skip
def test_bad_requests_get_binance_error_codes_and_change_nothing(text: str, code: int) -> None:
    reply, state = control(text)
    error = reply["error"]
    assert isinstance(error, dict)
    assert error["code"] == code
    assert isinstance(error["msg"], str)
    assert state == SessionState()


def test_pushes_send_every_final_once_in_order_then_the_forming_candle() -> None:
    start = 1_714_521_600_000
    cursor = Cursor(start, next_push_s=0.0)
    plan = plan_push(cursor, M1, (start + 3 * MINUTE_MS + 5, 10.0), 2.0, 1000)
    assert plan.finals == (start, start + MINUTE_MS, start + 2 * MINUTE_MS)
    assert plan.forming == start + 3 * MINUTE_MS
    again = plan_push(plan.cursor, M1, (start + 3 * MINUTE_MS + 9, 11.0), 2.0, 1000)
    assert (again.finals, again.forming) == ((), None)
    later = plan_push(again.cursor, M1, (start + 3 * MINUTE_MS + 20, 12.0), 2.0, 1000)
    assert (later.finals, later.forming) == ((), start + 3 * MINUTE_MS)
    jump = plan_push(later.cursor, M1, (start + 100 * MINUTE_MS, 13.0), 2.0, 5)
    assert jump.finals == tuple(start + (95 + i) * MINUTE_MS for i in range(5))


def test_virtual_clock_scales_pauses_and_advances() -> None:
    real = [100.0]
    clock = VirtualClock(1_000_000, speed=60, monotonic=lambda: real[0])
    real[0] += 1.0
    assert clock.now_ms() == 1_060_000
    clock.pause()
    real[0] += 5.0
    assert clock.now_ms() == 1_060_000
    clock.advance(500)
    clock.resume()
    real[0] += 0.5
    assert clock.now_ms() == 1_090_500
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_a_clock_on_a_stepping_real_clock_follows_it_forward_and_never_goes_back() -> None:
    # The simulator's wall-clock mode runs on the wall clock, which NTP or a paused VM
    # can step either way.
    wall = [1_000.0]
    clock = VirtualClock(1_000_000, speed=1, monotonic=lambda: wall[0])
    wall[0] += 6.0  # stepped forward: the virtual clock is where the wall clock is
    assert clock.now_ms() == 1_006_000
    wall[0] -= 2.0  # stepped back: held at the latest reading until the wall catches up
    assert clock.now_ms() == 1_006_000
    wall[0] += 2.5
    assert clock.now_ms() == 1_006_500


@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [(4_300_001, 2, "43000.01000000"), (5, 5, "0.00005000"), (7, 0, "7.00000000"),
     (-15, 3, "-0.01500000"), (123_456_789, 8, "1.23456789")],
)  # fmt: skip
def test_decimals_are_binance_fixed_point_strings(value: int, decimals: int, text: str) -> None:
    assert decimal_text(value, decimals) == text


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"interval": "1m"}, -1102),
        ({"symbol": "XYZUSDT", "interval": "1m"}, -1121),
        ({"symbol": "BTCUSDT", "interval": "1H"}, -1120),
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": "1001"}, -1130),
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": "ten"}, -1100),
        ({"symbol": "BTCUSDT", "interval": "1m", "startTime": "9", "endTime": "8"}, -1023),
    ],
)
def test_kline_parameters_fail_with_binance_codes(params: dict[str, str], code: int) -> None:
    with pytest.raises(ApiError) as caught:
        parse_klines(params, LISTED)
    assert caught.value.api_code == code


def test_symbols_parameter_is_a_json_list() -> None:
    symbols = orjson.dumps(["ETHUSDT", "BTCUSDT"]).decode()
    assert parse_symbols({"symbols": symbols}, LISTED) == ("ETHUSDT", "BTCUSDT")
    assert parse_symbols({}, LISTED) is None
    with pytest.raises(ApiError):
        parse_symbols({"symbols": "BTCUSDT"}, LISTED)


# -- staggered pushes (SimConfig.stagger_pushes) ------------------------------------------
def test_a_stream_phase_is_stable_within_the_cadence_and_spreads_streams() -> None:
    names = [f"{s}@kline_{i}" for s in ("btcusdt", "ethusdt", "solusdt") for i in ("1m", "1h")]
    phases = [stream_phase(name, 0.25) for name in names]
    assert phases == [stream_phase(name, 0.25) for name in names]  # same every run
    assert all(0 <= phase < 0.25 for phase in phases)
    assert len({round(phase, 3) for phase in phases}) == len(names)


def test_a_phased_cursor_pushes_its_first_forming_update_after_its_phase() -> None:
    m1 = Interval.parse("1m")
    now_ms = 10 * MINUTE_MS + 5_000
    cursor = start_cursor(m1, now_ms, real_s=100.0, phase_s=0.2)
    early = plan_push(cursor, m1, (now_ms, 100.1), cadence_s=2.0, max_finals=10)
    assert early.forming is None
    due = plan_push(early.cursor, m1, (now_ms + 100, 100.2), cadence_s=2.0, max_finals=10)
    assert due.forming == 10 * MINUTE_MS
    assert due.cursor.next_push_s == pytest.approx(102.2)  # the phase is kept
    assert start_cursor(m1, now_ms, real_s=100.0).next_push_s == 100.0  # default: at once


def test_streams_keep_their_own_phases_on_a_jittery_tick() -> None:
    """Two streams two ticks apart must never end up pushing in the same tick."""
    m1 = Interval.parse("1m")
    now_ms = 10 * MINUTE_MS
    cursors = [start_cursor(m1, now_ms, 0.0, phase) for phase in (0.0, 0.12)]
    pushed_together = 0
    real = 0.0
    for tick in range(2000):
        real += 0.05 + (0.013 if tick % 7 == 0 else 0.001)  # ticks drift and stall
        plans = [plan_push(c, m1, (now_ms, real), cadence_s=0.25, max_finals=10) for c in cursors]
        cursors = [plan.cursor for plan in plans]
        pushed_together += all(plan.forming is not None for plan in plans)
    assert pushed_together == 0
    assert cursors[1].next_push_s - cursors[0].next_push_s == pytest.approx(0.12)


def test_a_final_does_not_move_the_streams_phase() -> None:
    m1 = Interval.parse("1m")
    cursor = Cursor(10 * MINUTE_MS, next_push_s=100.2)
    closed = plan_push(cursor, m1, (11 * MINUTE_MS + 3, 100.05), cadence_s=0.25, max_finals=10)
    assert (closed.finals, closed.forming) == ((10 * MINUTE_MS,), 11 * MINUTE_MS)
    assert closed.cursor.next_push_s == 100.2  # the forming update still comes on phase
