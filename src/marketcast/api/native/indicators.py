"""``/signals`` (SmartTrade's shape), ``/indicators`` and the native ``indicators`` channel.

All three read the node's :class:`~marketcast.hub.indicators.cache.IndicatorCache`, which follows
the one pipeline's bus: values are those of the stored series, gap fills included.

Series points carry the candle's ``time`` (seconds) and, for the newest candle while it
forms, values that include it (as the candle itself appears in ``/candles``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, Final, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from marketcast.api.params import LIMIT_DOC, MARKET_PARAMETER, documented, parse_limit, query
from marketcast.api.state import AppState, app_state, market_state
from marketcast.api.transport.messages import dumps
from marketcast.api.transport.session import ClientSession
from marketcast.domain.candles import Candle
from marketcast.domain.indicators import IndicatorSpec, Value, parse_indicators
from marketcast.domain.intervals import Interval
from marketcast.domain.signals import Signals
from marketcast.domain.topics import Topic
from marketcast.errors import InvalidLimit, NotReady
from marketcast.hub.indicators.cache import IndicatorCache
from marketcast.hub.indicators.topic import TopicIndicators
from marketcast.metrics import counted_subscription

router = APIRouter()

DEFAULT_NAMES: Final = ("ema20", "ema50", "rsi14", "macd", "bb20", "atr14", "vwap")
DEFAULT_LIMIT: Final = 500

Json = dict[str, Any]


class IndicatorSubscribe(Protocol):
    """What a native ``subscribe`` to the ``indicators`` channel carries."""

    @property
    def symbol(self) -> str: ...
    @property
    def interval(self) -> Interval: ...
    @property
    def names(self) -> Sequence[str]: ...
    @property
    def limit(self) -> int | None: ...


def value_json(spec: IndicatorSpec, value: Value) -> Json:
    """``{"value": x}``, or one key per field (``macd``/``signal``/``histogram``, ...)."""
    return dict(zip(spec.fields, value, strict=True))


def _latest_json(spec: IndicatorSpec, value: Value) -> float | Json | None:
    """A single-valued indicator as a bare number, the others as objects."""
    return value[0] if len(value) == 1 else value_json(spec, value)


def series_json(indicators: TopicIndicators, specs: Sequence[IndicatorSpec], limit: int) -> Json:
    return {
        spec.name: [
            {"time": open_time // 1000, **value_json(spec, value)}
            for open_time, value in indicators.series(spec, limit)
        ]
        for spec in specs
    }


def signals_json(signals: Signals) -> Json:
    body = asdict(signals)
    return body | {k: list(body[k]) for k in ("pivots", "zones", "reasoning")}


def _caches(state: AppState) -> IndicatorCache:
    if state.indicators is None:
        raise NotReady("indicators are not running on this node")
    return state.indicators


async def _indicators_of(state: AppState, symbol: str, interval: Interval) -> TopicIndicators:
    hub = state.hub
    topic = Topic(hub.resolve_symbol(symbol), interval)
    await hub.topic_ready(topic)
    return await _caches(state).topic(topic)


@router.get("/signals/{symbol:path}/{interval}", openapi_extra=documented(MARKET_PARAMETER))
async def get_signals(request: Request, symbol: str, interval: str) -> Response:
    named = request.query_params.get("market")
    state, pair = market_state(app_state(request), symbol, named)
    indicators = await _indicators_of(state, pair, Interval.parse(interval))
    signals = indicators.signals()  # raises NotEnoughData below 20 closed candles
    topic = indicators.topic
    # SmartTrade's clients share this route: the market is named only when asked for.
    echo = {"market": state.market} if named or "/" in symbol else {}
    body = {"symbol": topic.symbol, "interval": topic.interval.code} | echo | signals_json(signals)
    return JSONResponse(body | {"time": indicators.candles[-1].time})


@router.get(
    "/indicators/{symbol:path}/{interval}",
    openapi_extra=documented(
        query("names", "comma-separated, e.g. ema20,rsi14,macd", type="string"),
        query("limit", LIMIT_DOC + "; default 500", type="integer", minimum=1),
        MARKET_PARAMETER,
    ),
)
async def get_indicators(request: Request, symbol: str, interval: str) -> Response:
    query = request.query_params
    state, symbol = market_state(app_state(request), symbol, query.get("market"))
    specs = parse_indicators(query.get("names") or DEFAULT_NAMES)
    limit = parse_limit(
        query.get("limit"), default=DEFAULT_LIMIT, maximum=state.settings.buffer_size
    )
    indicators = await _indicators_of(state, symbol, Interval.parse(interval))
    topic = indicators.topic
    body = {
        "symbol": topic.symbol,
        "market": state.market,
        "interval": topic.interval.code,
        "names": [s.name for s in specs],
        "series": series_json(indicators, specs, limit),
    }
    return JSONResponse(body)


def _update(
    indicators: TopicIndicators, candle: Candle, specs: Sequence[IndicatorSpec], market: str
) -> str:
    values = indicators.values_at(candle, specs)
    topic = indicators.topic
    latest = {s.name: _latest_json(s, values[s]) for s in specs}
    return dumps(
        {
            "type": "indicators",
            "channel": "indicators",
            "market": market,
            "symbol": topic.symbol,
            "interval": topic.interval.code,
            "time": candle.time,
            "closed": candle.closed,
            "values": latest,
        }
    )


async def subscribe_indicators(
    state: AppState, session: ClientSession, message: IndicatorSubscribe, symbol: str
) -> Callable[[], None]:
    """Send a snapshot of the series, then the values at every candle update; return the
    function that stops the updates.

    The snapshot is read from the cache and the watcher registered with no ``await`` in
    between, so no update can fall between them or be sent twice (the cache is only
    changed by bus callbacks, which run on this same loop).
    """
    specs = parse_indicators(message.names or DEFAULT_NAMES)
    capacity = state.hub.store.capacity
    if message.limit is not None and not 1 <= message.limit <= capacity:
        raise InvalidLimit(message.limit, capacity)
    indicators = await _indicators_of(state, symbol, message.interval)
    topic = indicators.topic
    indicators.pin(specs)
    snapshot = {
        "type": "snapshot",
        "channel": "indicators",
        "market": state.market,
        "symbol": topic.symbol,
        "interval": topic.interval.code,
        "names": [s.name for s in specs],
        "series": series_json(indicators, specs, message.limit or min(DEFAULT_LIMIT, capacity)),
    }
    session.send(dumps(snapshot))
    subscription = object()

    def push(current: TopicIndicators, candle: Candle) -> None:
        # A forming candle's values may be superseded while queued; a closed one's never.
        key = None if candle.closed else (subscription, candle.open_time)
        session.send(_update(current, candle, specs, state.market), key)

    unwatch = counted_subscription("indicators", _caches(state).watch(topic, push))

    def detach() -> None:
        unwatch()
        indicators.unpin(specs)

    return session.on_close(detach)
