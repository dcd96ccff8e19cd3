"""One marketcast node: both markets side by side, and the node's liquidations.

The same wiring serves live Binance and the simulator: only the base URLs differ, and
``simulated`` makes the difference visible in ``/health``, the logs and the UI.

Each market (spot, USD-M) is a :class:`~marketcast.node_market.MarketNode` with its own
exchange clients, weight budget, exchange info, store keys and hub; ``settings.market``
is the default one, for requests that name none. With ``--store memory`` (the default)
the node ingests and serves on its own. With ``--store redis`` nodes share the store:
``all``/``ingest`` nodes contend for each market's leader lease and only the holder
ingests that market; every node (``api`` ones included) feeds its clients from the
store's change feed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

from marketcast.config import MARKET_NAMES, Settings
from marketcast.exchanges.binance.markets import MARKETS
from marketcast.exchanges.binance.stream import KlineStream
from marketcast.hub.candles.hub import Hub
from marketcast.hub.liquidations.keeper import LiquidationKeeper
from marketcast.hub.tasks import TaskOwner
from marketcast.node_feeds import open_liquidations
from marketcast.node_market import MarketNode
from marketcast.resources import close_together

log = logging.getLogger(__name__)

_EXIT_STEP_S = 3.0


class Node:
    """``async with Node(settings) as node``: running markets at ``node.markets``; the
    default market's hub at ``node.hub``."""

    def __init__(self, settings: Settings, *, simulated: bool = False) -> None:
        self.settings = settings
        self.simulated = simulated
        self._stack = AsyncExitStack()
        self._owner = TaskOwner()
        self.markets: dict[str, MarketNode] = {
            name: MarketNode(
                settings,
                MARKETS[name],
                simulated=simulated,
                on_exit=self._on_exit,
                owner=self._owner,
            )
            for name in MARKET_NAMES
        }
        self.liquidations: LiquidationKeeper | None = None
        self._liquidation_stream: KlineStream | None = None

    @property
    def default(self) -> MarketNode:
        """The market of requests that name none (``settings.market``)."""
        return self.markets[self.settings.market]

    @property
    def hub(self) -> Hub:
        return self.default.hub

    @property
    def streams(self) -> tuple[KlineStream, ...]:
        """Every exchange connection of the node."""
        own = (self._liquidation_stream,) if self._liquidation_stream else ()
        return (*(s for m in self.markets.values() for s in m.streams), *own)

    async def __aenter__(self) -> Node:
        s = self.settings
        try:
            for market in self.markets.values():
                await market.start()
            if s.role != "ingest" and "liquidations" in s.feeds:
                futures_rest = self.markets["usdm"].rest
                assert futures_rest is not None
                self.liquidations, self._liquidation_stream = await open_liquidations(
                    s, futures_rest=futures_rest, on_exit=self._on_exit
                )
            self._on_exit("node tasks", self._owner.aclose)
            # Registered last, so it runs first.
            self._on_exit("exchange connections", self._disconnect)
        except BaseException:
            await self._stack.aclose()
            raise
        mode = "SIMULATED exchange" if self.simulated else "Binance"
        log.info(
            "node %s started (role %s, store %s): %s from %s (%s); default market %s",
            s.node_id,
            s.role,
            s.store,
            ", ".join(f"{len(s.topics_of(name))} {name} topics" for name in self.markets),
            mode,
            s.rest_base,
            s.market,
        )
        return self

    async def _disconnect(self) -> None:
        """Close every exchange stream at once, before anything else stops.

        Until then market data keeps arriving, and with books, tapes and candles at full
        rate the event loop spends the shutdown processing it: every later step then
        waits behind that work (loaded test runs saw shutdowns past 10 s). What runs on
        afterwards (gap fills, resyncs) is stopped by the next steps.
        """
        await close_together(*(stream.aclose() for stream in self.streams))

    def _on_exit(self, what: str, close: Callable[[], Awaitable[None]]) -> None:
        """Run ``close`` at shutdown, but never for longer than a deadline.

        Shutdown drains until a deadline, then cancels: one step stuck on a peer that
        does not answer (a close handshake, an unacknowledged UNSUBSCRIBE) must not keep
        the process from exiting; the steps after it still release their resources.
        """

        async def bounded() -> None:
            started = time.monotonic()
            try:
                async with asyncio.timeout(_EXIT_STEP_S):
                    await close()
            except TimeoutError:
                log.warning("shutdown: %s took over %.0fs; abandoned", what, _EXIT_STEP_S)
            else:
                log.debug("shutdown: %s took %.3fs", what, time.monotonic() - started)

        self._stack.push_async_callback(bounded)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    def upstream_health(self) -> dict[str, Any]:
        """The default market's exchange side at the top (the shape earlier versions
        gave), every market's under ``markets``, and the node's liquidations."""
        s = self.settings
        markets = {name: market.upstream_health() for name, market in self.markets.items()}
        default = dict(markets[s.market])
        health: dict[str, Any] = {
            "rest_base": s.rest_base,
            "ws_base": s.ws_base,
            "node": {
                "id": s.node_id,
                "role": s.role,
                "ingesting": any(m.hub.active for m in self.markets.values()),
                "leader": default.pop("leader"),
                "change_feed": default.pop("change_feed"),
            },
        }
        health |= default
        if "feeds" in health or self.liquidations is not None:
            health["feeds"] = dict(health.get("feeds", {})) | {
                "liquidations": self.liquidations.status() if self.liquidations else "off"
            }
        health["markets"] = markets
        return health
