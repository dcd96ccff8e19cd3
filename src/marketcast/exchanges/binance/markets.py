"""The two Binance markets marketcast reads, and everything that differs between them.

Spot and USD-M futures speak nearly the same protocol; the differences that matter to a
client are collected here so no other module branches on a market name:

==================  ===========================  ====================================
                    spot                         USD-M futures (``usdm``)
==================  ===========================  ====================================
REST host           ``https://api.binance.com``  ``https://fapi.binance.com``
REST paths          ``/api/v3/...``              ``/fapi/v1/...``
klines per call     1000                         1500
weight per minute   6000                         2400
WS host             ``stream.binance.com:9443``  ``fstream.binance.com``
WS routes           one endpoint for all         ``/market`` (kline, aggTrade,
                                                 forceOrder, markPrice), ``/public``
                                                 (depth, bookTicker)
book sync           ``U``/``u`` chain            ``pu`` chain
``1s`` klines       yes                          no
==================  ===========================  ====================================

A futures stream on the wrong route is accepted by Binance and then silently never
delivers, so the route of every stream comes from :meth:`MarketSpec.route`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from marketcast.domain.orderbook import SyncRule

MarketName = Literal["spot", "usdm"]
StreamKind = Literal["kline", "depth", "trade", "aggTrade", "forceOrder"]


@dataclass(frozen=True, slots=True)
class MarketSpec:
    name: MarketName
    rest_prefix: str
    max_klines_per_call: int
    weight_limit: int
    book_rule: SyncRule
    has_1s: bool
    # Route (path prefix under the WS host) per stream kind; "" is the host itself.
    routes: tuple[tuple[StreamKind, str], ...]

    def route(self, kind: StreamKind) -> str:
        """The path prefix (``""``, ``"/market"``, ``"/public"``) that carries ``kind``."""
        for known, prefix in self.routes:
            if known == kind:
                return prefix
        raise ValueError(f"the {self.name} market has no {kind} stream")

    def path(self, endpoint: str) -> str:
        """The REST path of ``endpoint`` (``"klines"`` → ``/api/v3/klines``)."""
        return f"{self.rest_prefix}/{endpoint}"


SPOT: Final = MarketSpec(
    name="spot",
    rest_prefix="/api/v3",
    max_klines_per_call=1000,
    weight_limit=6000,
    book_rule=SyncRule.SPOT,
    has_1s=True,
    routes=(("kline", ""), ("depth", ""), ("trade", ""), ("aggTrade", "")),
)

USDM: Final = MarketSpec(
    name="usdm",
    rest_prefix="/fapi/v1",
    max_klines_per_call=1500,
    weight_limit=2400,
    book_rule=SyncRule.FUTURES,
    has_1s=False,
    routes=(
        ("kline", "/market"),
        ("aggTrade", "/market"),
        ("forceOrder", "/market"),
        ("depth", "/public"),
    ),
)

MARKETS: Final = {"spot": SPOT, "usdm": USDM}
