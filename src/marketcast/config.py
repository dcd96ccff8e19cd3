"""Settings, typed and built once, from the environment and CLI flags.

Canonical names are ``MARKETCAST_*``; the seed systems' names (``SYMBOLS``, ``INTERVALS``,
``BUFFER_SIZE``, ``REDIS_URL``, ``USE_MEMORY_STORE``, ``BINANCE_REST_BASE``,
``BINANCE_WS_BASE``, ``CORS_ORIGINS``) are honoured as aliases so existing deployments
keep working.
"""

from __future__ import annotations

import os
import socket
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from marketcast.domain.intervals import Interval
from marketcast.domain.symbols import normalize_symbol
from marketcast.domain.topics import Topic
from marketcast.errors import InvalidInterval

DEFAULT_SYMBOLS = (
    "BTCUSDT",
    "ETHUSDT",
    "BNBUSDT",
    "SOLUSDT",
    "XRPUSDT",
    "DOGEUSDT",
    "ADAUSDT",
    "AVAXUSDT",
    "LINKUSDT",
    "DOTUSDT",
)
DEFAULT_INTERVALS = ("1m", "5m", "15m", "1h", "4h", "1d")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FEEDS = ("books", "trades", "liquidations")
Market = Literal["spot", "usdm"]
MARKET_NAMES: tuple[Market, ...] = ("spot", "usdm")
"""Every market a node serves, side by side."""
"""The per-symbol feeds a node can run beside candles (``MARKETCAST_FEEDS``, default all)."""

StrList = Annotated[tuple[str, ...], NoDecode]


def _aliases(name: str, *seed_names: str) -> AliasChoices:
    return AliasChoices(f"MARKETCAST_{name.upper()}", name, *seed_names)


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseSettings):
    """Every knob of a marketcast node; see the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="MARKETCAST_", populate_by_name=True, extra="ignore", frozen=True
    )

    symbols: StrList = Field(DEFAULT_SYMBOLS, validation_alias=_aliases("symbols", "SYMBOLS"))
    usdm_symbols: StrList = Field((), validation_alias=_aliases("usdm_symbols"))
    intervals: StrList = Field(
        DEFAULT_INTERVALS, validation_alias=_aliases("intervals", "INTERVALS")
    )
    buffer_size: int = Field(
        1000, ge=1, le=100_000, validation_alias=_aliases("buffer_size", "BUFFER_SIZE")
    )
    store: Literal["memory", "redis"] = Field("memory", validation_alias=_aliases("store"))
    use_memory_store: bool | None = Field(None, validation_alias=AliasChoices("USE_MEMORY_STORE"))
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", validation_alias=_aliases("redis_url", "REDIS_URL")
    )
    redis_prefix: str = Field("", validation_alias=_aliases("redis_prefix"))
    role: Literal["all", "ingest", "api"] = Field("all", validation_alias=_aliases("role"))
    market: Market = Field("spot", validation_alias=_aliases("market"))
    node_id: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}",
        validation_alias=_aliases("node_id"),
    )
    lease_ttl_s: float = Field(3.0, gt=0.2, validation_alias=_aliases("lease_ttl_s"))
    rest_base: str = Field(
        "https://api.binance.com",
        validation_alias=_aliases("rest_base", "BINANCE_REST_BASE"),
    )
    ws_base: str = Field(
        "wss://stream.binance.com:9443", validation_alias=_aliases("ws_base", "BINANCE_WS_BASE")
    )
    futures_rest_base: str = Field(
        "https://fapi.binance.com", validation_alias=_aliases("futures_rest_base")
    )
    futures_ws_base: str = Field(
        "wss://fstream.binance.com", validation_alias=_aliases("futures_ws_base")
    )
    liquidation_api_base_url: str | None = Field(
        None, validation_alias=_aliases("liquidation_api_base_url", "LIQUIDATION_API_BASE_URL")
    )
    max_orderbook_limit: int = Field(
        50, ge=5, le=1000, validation_alias=_aliases("max_orderbook_limit", "MAX_ORDERBOOK_LIMIT")
    )
    book_depth: int = Field(1000, ge=5, le=5000, validation_alias=_aliases("book_depth"))
    feeds: StrList = Field(FEEDS, validation_alias=_aliases("feeds"))
    book_push_hz: float = Field(10.0, gt=0, le=100, validation_alias=_aliases("book_push_hz"))
    trade_history: int = Field(1000, ge=10, le=10_000, validation_alias=_aliases("trade_history"))
    liquidation_history: int = Field(
        10_000, ge=50, le=1_000_000, validation_alias=_aliases("liquidation_history")
    )
    # Pages of candles older than the buffer: memory held per market, and how long Redis
    # keeps them for every node when the store is Redis.
    history_cache_mb: int = Field(
        64, ge=1, le=65_536, validation_alias=_aliases("history_cache_mb")
    )
    history_cache_ttl_s: int = Field(
        86_400, ge=60, validation_alias=_aliases("history_cache_ttl_s")
    )
    host: str = Field("127.0.0.1", validation_alias=_aliases("host"))
    port: int = Field(8000, ge=0, le=65535, validation_alias=_aliases("port"))
    cors_origins: StrList = Field(("*",), validation_alias=_aliases("cors_origins", "CORS_ORIGINS"))
    auth_token: str | None = Field(None, validation_alias=_aliases("auth_token"))
    # /metrics without the token, for a scraper on a private network that cannot send one.
    metrics_public: bool = Field(False, validation_alias=_aliases("metrics_public"))
    log_level: str = Field("INFO", validation_alias=_aliases("log_level"))
    log_format: Literal["text", "json"] = Field("text", validation_alias=_aliases("log_format"))

    max_ws_message_bytes: int = Field(
        4096, ge=256, validation_alias=_aliases("max_ws_message_bytes")
    )
    max_subscriptions_per_connection: int = Field(
        100, ge=1, validation_alias=_aliases("max_subscriptions_per_connection")
    )
    max_client_messages_per_s: float = Field(
        20.0, gt=0, validation_alias=_aliases("max_client_messages_per_s")
    )
    client_queue_limit: int = Field(2000, ge=10, validation_alias=_aliases("client_queue_limit"))
    client_send_timeout_s: float = Field(
        15.0, gt=0, validation_alias=_aliases("client_send_timeout_s")
    )
    client_max_unacked_bytes: int = Field(
        16 * 1024 * 1024, ge=65536, validation_alias=_aliases("client_max_unacked_bytes")
    )
    max_connections: int = Field(20_000, ge=1, validation_alias=_aliases("max_connections"))
    max_connections_per_ip: int = Field(
        2_000, ge=1, validation_alias=_aliases("max_connections_per_ip")
    )
    max_handshakes_per_s: float = Field(
        500.0, gt=0, validation_alias=_aliases("max_handshakes_per_s")
    )
    max_handshakes_per_ip_per_s: float = Field(
        100.0, gt=0, validation_alias=_aliases("max_handshakes_per_ip_per_s")
    )
    header_timeout_s: float = Field(10.0, gt=0, validation_alias=_aliases("header_timeout_s"))
    max_on_demand_topics: int = Field(50, ge=0, validation_alias=_aliases("max_on_demand_topics"))
    on_demand_idle_s: float = Field(300.0, gt=0, validation_alias=_aliases("on_demand_idle_s"))
    data_timeout_s: float = Field(15.0, gt=0, validation_alias=_aliases("data_timeout_s"))
    rest_concurrency: int = Field(16, ge=1, validation_alias=_aliases("rest_concurrency"))
    # None: the primary market's documented limit (6000/min spot, 2400/min USD-M).
    weight_limit: int | None = Field(None, ge=10, validation_alias=_aliases("weight_limit"))

    @field_validator("symbols", "usdm_symbols", mode="before")
    @classmethod
    def _parse_symbols(cls, value: Any) -> Any:
        parts = _split(value)
        if isinstance(parts, list | tuple):
            return tuple(dict.fromkeys(normalize_symbol(str(p)) for p in parts))
        return parts

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}")
        return level

    @property
    def json_logs(self) -> bool:
        return self.log_format == "json"

    @field_validator("feeds")
    @classmethod
    def _known_feeds(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [feed for feed in value if feed not in FEEDS]
        if unknown:
            raise ValueError(f"unknown feeds {unknown}; choose from {', '.join(FEEDS)}")
        return value

    @field_validator("intervals", "cors_origins", "feeds", mode="before")
    @classmethod
    def _parse_list(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("intervals")
    @classmethod
    def _check_intervals(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        try:
            for code in value:
                Interval.parse(code)
        except InvalidInterval as error:
            raise ValueError(str(error)) from None
        return value

    @field_validator("rest_base", "ws_base", "futures_rest_base", "futures_ws_base")
    @classmethod
    def _strip_base(cls, value: str) -> str:
        # SmartTrade's BINANCE_REST_BASE included the /api/v3 path; ours is the origin.
        value = value.rstrip("/")
        for suffix in ("/api/v3", "/fapi/v1", "/ws", "/stream", "/market", "/public"):
            value = value.removesuffix(suffix)
        return value

    @model_validator(mode="after")
    def _seed_store_alias(self) -> Settings:
        if self.use_memory_store is not None:
            object.__setattr__(self, "store", "memory" if self.use_memory_store else "redis")
        return self

    @model_validator(mode="after")
    def _roles_need_redis(self) -> Settings:
        if self.role != "all" and self.store != "redis":
            raise ValueError(f"--role {self.role} needs --store redis (nodes share the store)")
        return self

    @model_validator(mode="after")
    def _futures_have_no_seconds(self) -> Settings:
        if self.market == "usdm" and "1s" in self.intervals:
            raise ValueError("interval 1s exists on spot only; --market usdm has no 1s klines")
        return self

    @property
    def topics(self) -> tuple[Topic, ...]:
        """The default market's topics."""
        return self.topics_of(self.market)

    def symbols_of(self, market: str) -> tuple[str, ...]:
        """Symbols followed from start in ``market``: ``symbols`` in the default market,
        and ``usdm_symbols`` in USD-M."""
        followed = self.symbols if market == self.market else ()
        if market == "usdm":
            followed = tuple(dict.fromkeys((*followed, *self.usdm_symbols)))
        return followed

    def topics_of(self, market: str) -> tuple[Topic, ...]:
        """``market``'s topics from start: its symbols on every interval it has (no
        ``1s`` on USD-M)."""
        intervals = [Interval.parse(i) for i in self.intervals if market == "spot" or i != "1s"]
        return tuple(Topic(s, i) for s in self.symbols_of(market) for i in intervals)
