"""Settings of one simulated exchange (spot and USD-M futures)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from marketcast.exchanges.sim.faults.schedule import FaultSchedule
from marketcast.exchanges.sim.truth.symbols import LISTED_SYMBOLS


@dataclass(frozen=True, slots=True)
class SimConfig:
    """What the simulator lists, how fast its clock runs and how it misbehaves.

    Attributes:
        seed: the tape's seed; the same seed serves the same history.
        symbols: listed symbols; catalogue names or any ``<BASE>USDT``.
        start_ms: virtual time at start; ``None`` is the wall clock: at speed 1 virtual
            time then *is* the wall clock, as on Binance (a 1m candle closes on the
            wall-clock minute); at other speeds (or ``start_paused``) it starts at the
            wall-clock minute and runs ahead (so a demo shows current dates).
        speed: virtual seconds per real second; 60 closes a 1m candle every second.
        start_paused: keep the clock at ``start_ms`` until ``sim.clock.resume()``
            (tests that need an exact virtual now).
        push_interval_s: real seconds between kline stream pushes (Binance: 2 s); ``1s``
            streams push twice as often, as Binance's do.
        weight_limit_per_minute: spot REST weight per real minute before 429.
        futures_symbols: symbols that also have a USD-M perpetual (``/fapi``, futures
            streams, liquidations); ``None`` lists every symbol there too. Must be a
            subset of ``symbols``.
        futures_push_interval_s: real seconds between futures kline pushes (250 ms).
        futures_weight_limit_per_minute: USD-M REST weight per real minute (2400).
        futures_max_incoming_per_second: client messages per second on a futures
            connection before disconnect (10).
        faults: faults to inject on a schedule (see :mod:`.faults.schedule`).
        ws_ping_interval_s: the server pings every connection this often (Binance: 20 s).
        ws_ping_timeout_s: and drops it when the pong is this late.
        connection_max_age_s: real seconds a connection may live (Binance: 24 h).
        max_streams_per_connection: Binance spot allows 1024.
        max_incoming_per_second: client messages per second before disconnect (spot: 5).
        max_catchup_finals: most ``x:true`` updates one stream sends in a row after the
            clock jumps; older closes are skipped.
        stagger_pushes: give each kline stream its own phase within the push cadence
            instead of pushing every stream in the same tick. Binance's streams are not
            phase-aligned; the benchmark's realistic load uses this. Off by default: a new
            subscription's first push then comes at once, which tests rely on.
        trends: a drift per UTC day added to the log price of the listed symbols, e.g.
            ``{"BTCUSDT": 0.05}`` rises about 5% a day around the start day (a seeded
            trend scenario for signals); other symbols keep the trendless tape.
        past_downtimes: ``(start_ms, end_ms)`` windows, before ``start_ms``, when the
            exchange was down: candles wholly inside them never existed, as in Binance's
            own history (older history must report such holes, not paper over them).
    """

    seed: int = 7
    symbols: tuple[str, ...] = LISTED_SYMBOLS
    start_ms: int | None = None
    speed: float = 1.0
    start_paused: bool = False
    push_interval_s: float = 2.0
    weight_limit_per_minute: int = 6000
    futures_symbols: tuple[str, ...] | None = None
    futures_push_interval_s: float = 0.25
    futures_weight_limit_per_minute: int = 2400
    futures_max_incoming_per_second: int = 10
    faults: FaultSchedule = field(default_factory=FaultSchedule)
    ws_ping_interval_s: float = 20.0
    ws_ping_timeout_s: float = 60.0
    connection_max_age_s: float = 24 * 3600.0
    max_streams_per_connection: int = 1024
    max_incoming_per_second: int = 5
    max_catchup_finals: int = 1000
    stagger_pushes: bool = False
    trends: Mapping[str, float] = field(default_factory=dict)
    past_downtimes: tuple[tuple[int, int], ...] = ()
