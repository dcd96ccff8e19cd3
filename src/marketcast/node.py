"""One marketcast node: exchange adapter + store + hub, built from :class:`Settings`.

The same wiring serves live Binance and the simulator: only the base URLs differ, and
``simulated`` makes the difference visible in ``/health``, the logs and the UI.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

from marketcast.config import Settings
from marketcast.exchanges.binance.rest import BinanceRest
from marketcast.exchanges.binance.stream import KlineStream
from marketcast.hub.hub import Hub, HubLimits
from marketcast.store.memory import MemoryStore

log = logging.getLogger(__name__)


class Node:
    """``async with Node(settings) as node``: a running hub at ``node.hub``."""

    def __init__(self, settings: Settings, *, simulated: bool = False) -> None:
        self.settings = settings
        self.simulated = simulated
        self._stack = AsyncExitStack()
        self.rest: BinanceRest | None = None
        self.stream: KlineStream | None = None
        self._hub: Hub | None = None

    @property
    def hub(self) -> Hub:
        if self._hub is None:
            raise RuntimeError("node not started")
        return self._hub

    async def __aenter__(self) -> Node:
        s = self.settings
        if s.store != "memory":
            raise NotImplementedError("the redis store is not available yet; use --store memory")
        try:
            rest = BinanceRest(
                s.rest_base, weight_limit=s.weight_limit, max_concurrency=s.rest_concurrency
            )
            self.rest = await self._stack.enter_async_context(rest)
            self.stream = await self._stack.enter_async_context(
                KlineStream(s.ws_base, data_timeout=s.data_timeout_s)
            )
            store = MemoryStore(s.buffer_size)
            self._stack.push_async_callback(store.aclose)
            limits = HubLimits(
                max_on_demand_topics=s.max_on_demand_topics, on_demand_idle_s=s.on_demand_idle_s
            )
            self._hub = await self._stack.enter_async_context(
                Hub(
                    symbols=s.symbols,
                    topics=s.topics,
                    exchange=self.rest,
                    history=self.rest,
                    stream=self.stream,
                    store=store,
                    limits=limits,
                    simulated=self.simulated,
                )
            )
        except BaseException:
            await self._stack.aclose()
            raise
        mode = "SIMULATED exchange" if self.simulated else "Binance"
        log.info("node started: %d topics from %s (%s)", len(s.topics), mode, s.rest_base)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    def upstream_health(self) -> dict[str, Any]:
        stream = self.stream
        rest = self.rest
        health: dict[str, Any] = {
            "rest_base": self.settings.rest_base,
            "ws_base": self.settings.ws_base,
        }
        if stream is not None:
            connections = stream.connections()
            stats = stream.stats
            health["connected"] = bool(connections) and all(
                c.state == "connected" for c in connections
            )
            health["connections"] = [{"state": c.state, "streams": c.streams} for c in connections]
            health["stream"] = {
                "reconnects": stats.reconnects,
                "messages": stats.messages,
                "malformed_frames": stats.malformed_frames,
            }
        if rest is not None:
            rest_stats = rest.stats
            health["rest"] = {
                "requests": rest_stats.requests,
                "retries": rest_stats.retries,
                "rate_limited": rest_stats.rate_limited,
                "weight_used": rest_stats.weight_used_last,
            }
        return health
