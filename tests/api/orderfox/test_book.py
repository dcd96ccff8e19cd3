"""OrderFox's order book (docs/orderfox.md): the sockets, ``update_params`` and the REST view,
end to end over the simulator's spot depth stream; and the shared encoding.

The order books come from the node (``AppState.books``); the module's hub runs them for
its configured symbols. One hub is shared by the module; each test opens its own sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import httpx
import orjson
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection

from marketcast.api.app import create_app
from marketcast.api.orderfox.book import BookClient, BookParams, BookTexts, book_body
from marketcast.api.orderfox.sockets import OrderfoxSocket
from marketcast.api.transport.session import ClientSession
from marketcast.domain.book_view import BookView, aggregate
from marketcast.domain.orderbook import BookSnapshot, OrderBook, SyncRule
from marketcast.exchanges.sim import SimConfig, SimExchange
from support.servers import Running, hub_settings, running_hub, serve_app, wait_ready
from support.wsio import closed_with, connect, receive, receive_until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(60)]

Json = dict[str, Any]

START_MS = 1_714_521_600_000 + 13 * 3_600_000  # 2024-05-01 13:00 UTC
SIM = SimConfig(seed=41, symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"), start_ms=START_MS)
MAX_LIMIT = 50
PUSH_KEYS = {
    "type",
    "symbol",
    "bids",
    "asks",
    "timestamp",
    "limit",
    "rounding",
    "rounding_options",
    "market_depth_info",
    "aggregated",
    "best_bid",
    "best_ask",
    "spread",
    "mid_price",
    "last_update_id",
}
LEVEL_KEYS = {
    "price",
    "amount",
    "cumulative",
    "price_formatted",
    "amount_formatted",
    "cumulative_formatted",
}
DEPTH_KEYS = {
    "requested_levels",
    "actual_levels",
    "is_market_depth_limited",
    "raw_bids_count",
    "raw_asks_count",
    "min_required_raw_data",
    "has_insufficient_raw_data",
    "total_bid_volume",
    "total_ask_volume",
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub() -> AsyncIterator[Running]:
    async with running_hub(
        SIM, symbols=("BTCUSDT", "ETHUSDT"), buffer_size=50, max_orderbook_limit=MAX_LIMIT
    ) as running:
        await wait_ready(running.http)
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def client(hub: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub.http, timeout=15.0) as http:
        yield http


@pytest_asyncio.fixture(loop_scope="module")
async def btc(client: httpx.AsyncClient) -> Json:
    """BTCUSDT as ``/api/v1/symbols`` describes it (rounding options, default)."""
    response = await client.get("/api/v1/symbols/BTCUSDT")
    assert response.status_code == 200
    body: Json = response.json()
    return body


def is_push(message: Json) -> bool:
    return message.get("type") == "orderbook_update"


def of_type(kind: str) -> Callable[[Json], bool]:
    return lambda message: message.get("type") == kind


async def next_push(ws: ClientConnection) -> Json:
    return (await receive_until(ws, is_push, timeout=20))[-1]


def multiple_of(price: float, rounding: float) -> bool:
    return Decimal(repr(price)) % Decimal(repr(rounding)) == 0


def assert_book_shape(push: Json, symbol: str, limit: int, rounding: float) -> None:
    """Contract keys; sides high to low; buckets on the grid; totals from the best out."""
    assert set(push) - {"type"} == PUSH_KEYS - {"type"}
    assert push["symbol"] == symbol
    assert (push["limit"], push["rounding"], push["aggregated"]) == (limit, rounding, True)
    assert set(push["market_depth_info"]) == DEPTH_KEYS
    bids, asks = push["bids"], push["asks"]
    assert 0 < len(bids) <= limit
    assert 0 < len(asks) <= limit
    for level in bids + asks:
        assert set(level) == LEVEL_KEYS
        assert multiple_of(level["price"], rounding)
        assert float(level["price_formatted"]) == level["price"]
    bid_prices = [level["price"] for level in bids]
    ask_prices = [level["price"] for level in asks]
    assert bid_prices == sorted(bid_prices, reverse=True)
    assert ask_prices == sorted(ask_prices, reverse=True), "asks high to low, as OrderFox shows"
    assert ask_prices[-1] > bid_prices[0], "the best ask bucket is last, above the best bid"
    bid_totals = [level["cumulative"] for level in bids]
    ask_totals = [level["cumulative"] for level in reversed(asks)]
    assert bid_totals == sorted(bid_totals)
    assert ask_totals == sorted(ask_totals)
    assert push["best_bid"] >= bid_prices[0]
    assert push["best_ask"] <= ask_prices[-1]
    assert push["spread"] == pytest.approx(push["best_ask"] - push["best_bid"])


# -- sockets -------------------------------------------------------------------------
async def test_first_push_has_the_contract_shape_and_default_params(
    hub: Running, btc: Json
) -> None:
    async with connect(f"{hub.ws}/api/v1/ws/orderbook/BTCUSDT") as ws:
        push = await receive(ws, timeout=20)
        assert push["type"] == "orderbook_update"
        assert_book_shape(push, "BTCUSDT", 20, btc["defaultRounding"])
        assert push["rounding_options"] == btc["roundingOptions"]
        assert push["market_depth_info"]["requested_levels"] == 20


async def test_query_form_echoes_the_exchange_id_and_takes_limit_and_rounding(
    hub: Running, btc: Json
) -> None:
    rounding = btc["roundingOptions"][1]
    url = f"{hub.ws}/api/v1/ws/orderbook?symbol=btcusdt&limit=5&rounding={rounding}"
    async with connect(url) as ws:
        push = await receive(ws, timeout=20)
        assert_book_shape(push, "BTCUSDT", 5, rounding)


async def test_pushes_follow_the_changing_book(hub: Running) -> None:
    async with connect(f"{hub.ws}/api/v1/ws/orderbook/ETHUSDT?limit=10") as ws:
        versions = set()
        for _ in range(3):
            versions.add((await next_push(ws))["last_update_id"])
        assert len(versions) == 3, "each push is a newer book"


async def test_update_params_replies_params_updated_then_a_fresh_push(
    hub: Running, btc: Json
) -> None:
    rounding = btc["roundingOptions"][-1]
    async with connect(f"{hub.ws}/api/v1/ws/orderbook/BTCUSDT") as ws:
        await next_push(ws)
        await ws.send(orjson.dumps({"type": "update_params", "limit": 7, "rounding": rounding}))
        seen = await receive_until(ws, of_type("params_updated"), timeout=10)
        updated = seen[-1]
        assert updated["symbol"] == "BTCUSDT"
        assert (updated["limit"], updated["rounding"]) == (7, rounding)
        push = await next_push(ws)
        assert_book_shape(push, "BTCUSDT", 7, rounding)
        await ws.send(orjson.dumps({"type": "update_params", "limit": MAX_LIMIT}))
        await receive_until(ws, of_type("params_updated"), timeout=10)
        push = await next_push(ws)
        assert (push["limit"], push["rounding"]) == (MAX_LIMIT, rounding), "rounding is kept"


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": MAX_LIMIT + 1},
        {"limit": "lots"},
        {"limit": True},
        {"rounding": 0.25},
        {"rounding": "fine"},
        {"rounding": -1},
        {"rounding": [1]},
    ],
)
async def test_invalid_update_params_are_an_error_and_keep_the_old_params(
    hub: Running, btc: Json, params: Json
) -> None:
    async with connect(f"{hub.ws}/api/v1/ws/orderbook/BTCUSDT?limit=3") as ws:
        await next_push(ws)
        await ws.send(orjson.dumps({"type": "update_params", **params}))
        error = (await receive_until(ws, of_type("error"), timeout=10))[-1]
        assert error["code"] in {"invalid_limit", "invalid_request"}
        push = await next_push(ws)
        assert (push["limit"], push["rounding"]) == (3, btc["defaultRounding"])


async def test_an_unknown_message_type_is_an_error_and_ping_still_pongs(hub: Running) -> None:
    async with connect(f"{hub.ws}/api/v1/ws/orderbook/BTCUSDT") as ws:
        await ws.send('{"type": "subscribe"}')
        assert (await receive_until(ws, of_type("error")))[-1]["code"] == "invalid_request"
        await ws.send('{"type": "ping"}')
        await receive_until(ws, of_type("pong"))


@pytest.mark.parametrize(
    "query",
    ["limit=0", f"limit={MAX_LIMIT + 1}", "limit=x", "rounding=0.333", "rounding=fine"],
)
@pytest.mark.parametrize("form", ["path", "query"])
async def test_an_invalid_query_closes_1008_with_a_reason(
    hub: Running, query: str, form: str
) -> None:
    path = (
        f"/api/v1/ws/orderbook/BTCUSDT?{query}"
        if form == "path"
        else f"/api/v1/ws/orderbook?symbol=BTCUSDT&{query}"
    )
    async with connect(hub.ws + path) as ws:
        assert (await receive(ws))["type"] == "error"
        closed = await closed_with(ws)
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1008
    assert closed.rcvd.reason


async def test_the_query_form_without_a_symbol_closes_1008(hub: Running) -> None:
    async with connect(f"{hub.ws}/api/v1/ws/orderbook?limit=5") as ws:
        closed = await closed_with(ws)
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1008
    assert "symbol" in closed.rcvd.reason


@pytest.mark.parametrize(
    "path", ["/api/v1/ws/orderbook/BTCXUSDT", "/api/v1/ws/orderbook?symbol=BTCXUSDT"]
)
async def test_an_unknown_symbol_is_an_error_then_close_4000(hub: Running, path: str) -> None:
    async with connect(hub.ws + path) as ws:
        error = await receive(ws)
        assert error["type"] == "error"
        assert "BTCUSDT" in error["suggestions"]
        closed = await closed_with(ws)
    assert closed.rcvd is not None
    assert closed.rcvd.code == 4000


# -- REST ----------------------------------------------------------------------------
async def test_rest_orderbook_is_the_push_without_type(
    client: httpx.AsyncClient, btc: Json
) -> None:
    rounding = btc["roundingOptions"][1]
    response = await client.get(
        "/api/v1/orderbook/btcusdt", params={"limit": 4, "rounding": str(rounding)}
    )
    assert response.status_code == 200
    body = response.json()
    assert "type" not in body
    assert_book_shape(body, "BTCUSDT", 4, rounding)
    default = (await client.get("/api/v1/orderbook/BTCUSDT")).json()
    assert (default["limit"], default["rounding"]) == (20, btc["defaultRounding"])


@pytest.mark.parametrize(
    ("query", "status"),
    [({"limit": "0"}, 400), ({"limit": str(MAX_LIMIT + 1)}, 400), ({"rounding": "0.333"}, 400)],
)
async def test_rest_orderbook_bad_params_are_a_400_envelope(
    client: httpx.AsyncClient, query: dict[str, str], status: int
) -> None:
    response = await client.get("/api/v1/orderbook/BTCUSDT", params=query)
    assert response.status_code == status
    assert response.json()["status_code"] == status
    assert response.json()["detail"]


async def test_rest_orderbook_of_an_unknown_symbol_is_a_404_envelope(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/orderbook/BTCXUSDT")
    assert response.status_code == 404
    assert response.json()["status_code"] == 404
    assert "BTCUSDT" in response.json()["suggestions"]


# -- encode once ---------------------------------------------------------------------
def _view_of(bid: str, ask: str) -> Any:
    book = OrderBook(SyncRule.SPOT)
    level = Decimal("1.5")
    book.on_snapshot(BookSnapshot(1, ((Decimal(bid), level),), ((Decimal(ask), level),), 1_000))
    return aggregate(book, limit=5, rounding=Decimal("0.1"), amount_precision=3)


async def test_a_view_is_encoded_once_and_shared_until_the_feed_hands_out_another() -> None:
    texts = BookTexts()
    options = (Decimal("0.1"), Decimal("1"))
    view = _view_of("100.0", "100.2")
    first = texts.text("BTCUSDT", view, options)
    assert texts.text("BTCUSDT", view, options) is first
    assert texts.encoded == 1
    newer = _view_of("100.1", "100.2")
    assert orjson.loads(texts.text("BTCUSDT", newer, options))["bids"][0]["price"] == 100.1
    assert texts.encoded == 2
    assert orjson.loads(first) == book_body("BTCUSDT", view, options, 0)


async def test_a_node_without_order_books_refuses_with_not_ready() -> None:
    async with SimExchange(SIM) as sim:
        app = create_app(hub_settings(sim, symbols=("BTCUSDT",), buffer_size=20), simulated=True)
        async with serve_app(app) as http:
            await wait_ready(http)
            app.state.marketcast.books = None  # e.g. an API node without feeds
            ws_url = http.replace("http://", "ws://", 1)
            async with connect(f"{ws_url}/api/v1/ws/orderbook/BTCUSDT") as ws:
                error = await receive(ws)
                closed = await closed_with(ws)
            async with httpx.AsyncClient(base_url=http) as client:
                response = await client.get("/api/v1/orderbook/BTCUSDT")
    assert (error["type"], error["code"]) == ("error", "not_ready")
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1013, "try again later"
    assert response.status_code == 503
    assert response.json()["status_code"] == 503


class _OneView:
    """A book feed that hands out one view until told otherwise (as within a version)."""

    def __init__(self, view: BookView) -> None:
        self.current = view

    def view(self, symbol: str, limit: int, rounding: Decimal) -> BookView:
        return self.current


class _Wire:
    """The socket side of a session: what was written to it (never waits)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.scope: dict[str, Any] = {}  # not served by uvicorn: no direct writer

    async def send_text(self, text: str) -> None:
        self.sent.append(text)


def _book_client(feed: _OneView) -> tuple[BookClient, _Wire]:
    wire = _Wire()
    session = ClientSession(cast(Any, wire), queue_limit=100)
    socket = OrderfoxSocket(cast(Any, None), cast(Any, None), session, "BTCUSDT")
    meta = cast(Any, SimpleNamespace(rounding_options=(Decimal("0.1"),)))
    params = BookParams(5, Decimal("0.1"))
    return BookClient(socket, cast(Any, feed), meta, params, BookTexts()), wire


async def test_a_book_client_skips_a_push_of_the_view_it_last_sent() -> None:
    feed = _OneView(_view_of("100.0", "100.2"))
    client, wire = _book_client(feed)
    client.push(1)
    assert len(wire.sent) == 1
    client.push(1)  # the feed announces the version the attach already pushed
    assert len(wire.sent) == 1
    feed.current = _view_of("100.1", "100.2")
    client.push(2)
    assert len(wire.sent) == 2
