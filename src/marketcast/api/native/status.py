"""``/health`` and ``/streaming/status`` bodies: what an operator checks first."""

from __future__ import annotations

from typing import Any

from marketcast.api.state import AppState
from marketcast.domain.series import breaks
from marketcast.domain.topics import Topic
from marketcast.hub.candles.hub import Hub


def _market_reasons(name: str, hub: Hub, upstream: dict[str, Any]) -> list[str]:
    """Why one market is degraded (each reason names the market)."""
    reasons = []
    if not hub.catalog_loaded.is_set():
        reasons.append("exchange info not loaded (exchange unreachable?)")
    if upstream.get("connected") is False:
        reasons.append("exchange stream disconnected")
    if upstream.get("change_feed") is False:
        reasons.append("shared store (Redis) unreachable: serving what this node holds")
    failing = [str(t) for t in hub.topics if (s := hub.sync_of(t)) and s.stats.last_error]
    if failing:
        reasons.append(f"sync failing for {', '.join(failing[:10])}")
    dead = hub.dead_workers()
    if dead:
        reasons.append(f"sync stopped for {', '.join(map(str, dead[:10]))}")
    if hub.unlisted:
        reasons.append(f"configured symbols not listed by the exchange: {', '.join(hub.unlisted)}")
    return [f"{name}: {reason}" for reason in reasons]


def health(state: AppState) -> dict[str, Any]:
    """The node's status; ``ready``, ``bootstrap`` and ``topics`` count every market,
    ``markets`` has each market's own."""
    upstream = state.upstream()
    upstream_of = upstream.get("markets", {})
    reasons: list[str] = []
    markets: dict[str, Any] = {}
    for name, on in state.markets.items():
        hub = on.hub
        reasons += _market_reasons(name, hub, upstream_of.get(name, {}))
        done, total = hub.bootstrap_progress()
        markets[name] = {
            "ready": hub.ready,
            "bootstrap": {"done": done, "total": total},
            "symbols": list(hub.symbols),
            "topics": len(hub.topics),
        }
    hub = state.hub
    return {
        "status": "degraded" if reasons else "ok",
        "mode": "SIMULATED" if hub.simulated else "live",
        "simulated": hub.simulated,
        "sim_speed": state.sim_speed,
        "ready": all(m["ready"] for m in markets.values()),
        "bootstrap": {
            "done": sum(m["bootstrap"]["done"] for m in markets.values()),
            "total": sum(m["bootstrap"]["total"] for m in markets.values()),
        },
        "market": state.settings.market,
        "markets": markets,
        "store": state.settings.store,
        "topics": sum(m["topics"] for m in markets.values()),
        "connections": state.admission.open if state.admission else None,
        "slow_consumers_closed": state.sockets.slow_closes,
        "upstream": upstream,
        "reasons": reasons,
    }


async def topic_status(state: AppState, topic: Topic, now_ms: int) -> dict[str, Any]:
    hub = state.hub
    info = await hub.store.info(topic)
    times = await hub.store.open_times(topic)
    holes = breaks(times, topic.interval, info.exchange_gaps)
    sync = hub.sync_of(topic)
    updated = info.updated_at_ms
    return {
        "topic": str(topic),
        "market": state.market,
        "symbol": topic.symbol,
        "interval": topic.interval.code,
        "count": info.count,
        "first_time": info.first.time if info.first else None,
        "last_time": info.last.time if info.last else None,
        "last_closed": info.last.closed if info.last else None,
        "last_update_age_s": round((now_ms - updated) / 1000, 3) if updated else None,
        "continuous": not holes,
        "breaks": [[g.first // 1000, g.last // 1000] for g in holes],
        "exchange_gaps": [[g.first // 1000, g.last // 1000] for g in info.exchange_gaps],
        "gaps_filled": sync.stats.candles_filled if sync else 0,
        "subscribers": hub.bus.subscriber_count(topic),
        "ready": bool(sync and sync.ready.is_set()),
        "on_demand": hub.is_on_demand(topic),
        "last_error": sync.stats.last_error if sync else None,
    }


async def streaming_status(state: AppState) -> dict[str, Any]:
    """SmartTrade's shape (``symbols``, ``per_symbol``, ``last_store_update_ts``) plus
    the native per-topic detail under ``topics``."""
    hub = state.hub
    now_ms = hub.now_ms()
    topics = [
        await topic_status(on, t, now_ms) for on in state.markets.values() for t in on.hub.topics
    ]
    per_symbol = []
    last_update = 0
    for topic in hub.topics:
        info = await hub.store.info(topic)
        last_update = max(last_update, info.updated_at_ms or 0)
        last = info.last
        per_symbol.append(
            {
                "symbol": topic.symbol,
                "interval": topic.interval.code,
                "count": info.count,
                "last_candle_time": last.time if last else None,
                "last_close": last.close if last else None,
                "last_open": last.open if last else None,
                "last_high": last.high if last else None,
                "last_low": last.low if last else None,
            }
        )
    return {
        "symbols": list(hub.symbols),
        "per_symbol": per_symbol,
        "last_store_update_ts": last_update / 1000 if last_update else None,
        "topics": topics,
    }
