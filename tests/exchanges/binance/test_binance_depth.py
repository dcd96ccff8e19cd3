"""Binance depth payloads (recorded from Binance's documentation) become book values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketcast.domain.orderbook import (
    Applied,
    BookDiff,
    BookSnapshot,
    OrderBook,
    Synced,
    SyncRule,
)
from marketcast.errors import ExchangeProtocolError
from marketcast.exchanges.binance.depth import (
    DepthEvent,
    parse_depth_snapshot,
    parse_futures_depth_event,
    parse_spot_depth_event,
)

D = Decimal

# GET /api/v3/depth (spot rest-api.md, "Order book")
DOC_SPOT_SNAPSHOT = b"""{
  "lastUpdateId": 1027024,
  "bids": [["4.00000000", "431.00000000"]],
  "asks": [["4.00000200", "12.00000000"]]
}"""
# GET /fapi/v1/depth (USD-M futures, "Order Book")
DOC_FUTURES_SNAPSHOT = b"""{
  "lastUpdateId": 1027024, "E": 1589436922972, "T": 1589436922959,
  "bids": [["4.00000000", "431.00000000"]],
  "asks": [["4.00000200", "12.00000000"]]
}"""
# <symbol>@depth (spot web-socket-streams.md, "Diff. Depth Stream")
DOC_SPOT_EVENT = b"""{
  "e": "depthUpdate", "E": 1672515782136, "s": "BNBBTC", "U": 157, "u": 160,
  "b": [["0.0024", "10"]],
  "a": [["0.0026", "100"]]
}"""
# <symbol>@depth (USD-M futures, "Diff. Book Depth Streams")
DOC_FUTURES_EVENT = b"""{
  "e": "depthUpdate", "E": 123456789, "T": 123456788, "s": "BTCUSDT",
  "U": 157, "u": 160, "pu": 149,
  "b": [["0.0024", "10"]],
  "a": [["0.0026", "100"]]
}"""


DROP: Any = object()  # a field to leave out


def doc(raw: bytes, **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = orjson.loads(raw)
    payload.update(changes)
    return {key: value for key, value in payload.items() if value is not DROP}


def test_spot_snapshot_keeps_exact_decimals_and_has_no_time() -> None:
    assert parse_depth_snapshot(orjson.loads(DOC_SPOT_SNAPSHOT)) == BookSnapshot(
        last_update=1027024,
        bids=((D("4.00000000"), D("431.00000000")),),
        asks=((D("4.00000200"), D("12.00000000")),),
        event_time=None,
    )


def test_futures_snapshot_carries_its_event_time() -> None:
    snapshot = parse_depth_snapshot(orjson.loads(DOC_FUTURES_SNAPSHOT))
    assert snapshot.last_update == 1027024
    assert snapshot.event_time == 1589436922972


def test_spot_event_becomes_a_diff_without_previous_final() -> None:
    assert parse_spot_depth_event(orjson.loads(DOC_SPOT_EVENT)) == DepthEvent(
        "BNBBTC",
        BookDiff(
            first_update=157,
            final_update=160,
            previous_final=None,
            bids=((D("0.0024"), D("10")),),
            asks=((D("0.0026"), D("100")),),
            event_time=1672515782136,
        ),
    )


def test_futures_event_keeps_pu_as_previous_final() -> None:
    event = parse_futures_depth_event(orjson.loads(DOC_FUTURES_EVENT))
    assert event.symbol == "BTCUSDT"
    assert (event.diff.first_update, event.diff.final_update) == (157, 160)
    assert event.diff.previous_final == 149
    assert event.diff.event_time == 123456789


def test_zero_quantity_old_third_element_and_lower_case_symbol_are_accepted() -> None:
    event = parse_spot_depth_event(
        doc(DOC_SPOT_EVENT, s="bnbbtc", b=[["0.0024", "0.00000000", []]], a=[])
    )
    assert event.symbol == "BNBBTC"
    assert event.diff.bids == ((D("0.0024"), D(0)),)
    assert event.diff.asks == ()


def test_parsed_payloads_drive_a_book() -> None:
    book = OrderBook(SyncRule.FUTURES)
    event = parse_futures_depth_event(doc(DOC_FUTURES_EVENT, U=1027020, u=1027030))
    book.on_diff(event.diff)
    assert book.on_snapshot(parse_depth_snapshot(orjson.loads(DOC_FUTURES_SNAPSHOT))) == Synced(
        1027024, replayed=1, dropped=0
    )
    follow = parse_futures_depth_event(doc(DOC_FUTURES_EVENT, U=1027031, u=1027040, pu=1027030))
    assert book.on_diff(follow.diff) == Applied(1027040)
    assert dict(book.bids) == {D("4.00000000"): D("431.00000000"), D("0.0024"): D(10)}


@pytest.mark.parametrize(
    "payload",
    [
        [],
        doc(DOC_SPOT_SNAPSHOT, lastUpdateId=DROP),
        doc(DOC_SPOT_SNAPSHOT, lastUpdateId="1027024"),
        doc(DOC_SPOT_SNAPSHOT, lastUpdateId=True),
        doc(DOC_SPOT_SNAPSHOT, lastUpdateId=-1),
        doc(DOC_SPOT_SNAPSHOT, bids=DROP),
        doc(DOC_SPOT_SNAPSHOT, bids={"4.0": "1"}),
        doc(DOC_SPOT_SNAPSHOT, bids=[["4.0"]]),
        doc(DOC_SPOT_SNAPSHOT, bids=["4.0", "1"]),
        doc(DOC_SPOT_SNAPSHOT, asks=[["abc", "1"]]),
        doc(DOC_SPOT_SNAPSHOT, asks=[["NaN", "1"]]),
        doc(DOC_SPOT_SNAPSHOT, asks=[["4.0", "Infinity"]]),
        doc(DOC_SPOT_SNAPSHOT, asks=[[4.5, "1"]]),
        doc(DOC_SPOT_SNAPSHOT, asks=[["0", "1"]]),
        doc(DOC_SPOT_SNAPSHOT, asks=[["4.0", "-1"]]),
        doc(DOC_SPOT_SNAPSHOT, asks=[[True, "1"]]),
        doc(DOC_FUTURES_SNAPSHOT, E="1589436922972"),
    ],
)
def test_malformed_snapshot_is_a_protocol_error(payload: object) -> None:
    with pytest.raises(ExchangeProtocolError):
        parse_depth_snapshot(payload)


@pytest.mark.parametrize(
    "payload",
    [
        None,
        doc(DOC_SPOT_EVENT, e="kline"),
        doc(DOC_SPOT_EVENT, e=DROP),
        doc(DOC_SPOT_EVENT, s=""),
        doc(DOC_SPOT_EVENT, s=DROP),
        doc(DOC_SPOT_EVENT, U=DROP),
        doc(DOC_SPOT_EVENT, u="160"),
        doc(DOC_SPOT_EVENT, U=161),  # U > u covers no update
        doc(DOC_SPOT_EVENT, E=DROP),
        doc(DOC_SPOT_EVENT, b=DROP),
        doc(DOC_SPOT_EVENT, a=[["0.0026"]]),
    ],
)
def test_malformed_event_is_a_protocol_error(payload: object) -> None:
    for parse in (parse_spot_depth_event, parse_futures_depth_event):
        with pytest.raises(ExchangeProtocolError):
            parse(payload if not isinstance(payload, dict) else {**payload, "pu": 149})


@pytest.mark.parametrize("pu", [DROP, "149", None, False])
def test_futures_event_needs_an_integer_pu(pu: object) -> None:
    with pytest.raises(ExchangeProtocolError, match="pu"):
        parse_futures_depth_event(doc(DOC_FUTURES_EVENT, pu=pu))


def test_spot_parser_ignores_a_pu_field() -> None:
    event = parse_spot_depth_event(orjson.loads(DOC_FUTURES_EVENT))
    assert event.diff.previous_final is None


levels = st.lists(
    st.tuples(
        st.decimals(min_value=D("0.00000001"), max_value=D(10**9), places=8),
        st.decimals(min_value=D(0), max_value=D(10**9), places=8),
    ),
    max_size=20,
)


@given(bids=levels, asks=levels, last=st.integers(0, 2**63 - 1))
def test_any_documented_snapshot_round_trips_exactly(
    bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]], last: int
) -> None:
    payload = {
        "lastUpdateId": last,
        "bids": [[format(p, "f"), format(q, "f")] for p, q in bids],
        "asks": [[format(p, "f"), format(q, "f")] for p, q in asks],
    }
    snapshot = parse_depth_snapshot(orjson.loads(orjson.dumps(payload)))
    assert snapshot == BookSnapshot(last, tuple(bids), tuple(asks))
