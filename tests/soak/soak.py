"""The soak: many clients, every fault, killed nodes, and an exact account at the end.

``make soak`` (``SOAK_MINUTES=60`` for the long one) runs three phases against one
simulated exchange, each a third of the time:

1. **memory**: one node on the memory store;
2. **redis**: one node on Redis, killed with SIGKILL and restarted once, and Redis
   killed and restarted once (it keeps nothing on disk: the node rebuilds the store);
3. **cluster**: two ingest nodes and one API node on Redis; the ingest leader is killed
   with SIGKILL and the standby takes over; the clients are on the API node.

Throughout, the simulator injects every fault it has, one after another (drops, stalls,
delays, duplicates, garbage frames, skipped finals, trade and depth gaps, the 24 h
limit, ``serverShutdown``, REST 429/418/5xx and latency, exchange downtime), and client
processes (``clients.py``) follow candles, order books and trade tapes, resuming with
``since`` after every disconnect. At the end of each phase every client's holdings are
compared with the simulator's ground truth, once the clients have converged (every
series caught up with the exchange, no tape holding an open hole; bounded by
``CONVERGE_S``):

- candles: missing, extra, a closed candle that differs from the exchange's final one,
  a series left stale (its newest candle more than two intervals old), duplicates (one
  open time twice in a snapshot);
- trades: ids missing from the tape a client holds (the exchange's ids are contiguous);
  a ``reset`` (ids passed out of the hub's reach, and it said so) starts the held tape
  anew, and resets are counted beside the losses;
- order books: a view that differs from the true book at its ``update_id``;
- liquidations: those the exchange put on a node's ``@forceOrder`` socket that the node
  does not hold at the end (``liquidations.py``). A relay in front of the simulator
  records what it delivered (``relay.py``): the simulator's truth also lists those
  pushed while no connection was open (a drop, a stall, downtime), which no hub can have;
- the nodes' logs: every line with a traceback or a worker's "hit a bug".

It prints one table and exits with 1 on any loss or traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import logging
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:  # run as a script: make the test support importable
    sys.path.insert(0, str(TESTS))

from marketcast.domain.book_view import ViewLevel, aggregate  # noqa: E402
from marketcast.domain.intervals import Interval  # noqa: E402
from marketcast.domain.orderbook import OrderBook, SyncRule  # noqa: E402
from marketcast.exchanges.binance.depth import parse_depth_snapshot  # noqa: E402
from marketcast.exchanges.sim import SimConfig, SimExchange  # noqa: E402
from marketcast.exchanges.sim.injection import Faults  # noqa: E402
from marketcast.exchanges.sim.truth.book import BOOK_LEVELS  # noqa: E402
from marketcast.exchanges.sim.wire.market import MarketFormatter  # noqa: E402
from soak.liquidations import account_liquidations  # noqa: E402
from soak.relay import Relay  # noqa: E402
from support.nodes import LOOPBACK_LIMITS, NodeProcess, leader_of  # noqa: E402
from support.redis_server import RedisProcess  # noqa: E402

CLIENTS_SCRIPT = Path(__file__).with_name("clients.py")
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT")
INTERVALS = ("1m", "5m")
START_MS = 1_780_272_000_000
# After the last fault the clients must converge on the exchange (every series fresh, no
# hole left open in a tape) within this bound; a busy machine takes long to drain the
# backlog of a reconnect storm, so the bound is generous and the wait is on the condition.
CONVERGE_S = 180.0
# 1m candles close every 4 s; trades come at a hundred or more a second per symbol (a
# busy real market). At 30x the cluster phase (three nodes, Redis, the simulator and a
# thousand Python clients on two shared cores) starved the clients themselves: they
# missed pongs, were closed as slow consumers and never caught up again.
SPEED = 15.0
NODE_ENV = LOOPBACK_LIMITS | {"MARKETCAST_DATA_TIMEOUT_S": "3"}
# What a node logs when something went wrong that no fault explains: a traceback (every
# ``log.exception``, an uncaught error on stderr), or a candle sync worker that caught a
# bug and retries (``hub/candles/sync.py``).
BUG_MARKERS = ("Traceback", "hit a bug")

# Every fault kind the simulator has, injected in turn.
FAULTS: tuple[tuple[str, Callable[[Faults], object]], ...] = (
    ("drop", lambda f: f.drop_connections()),
    ("stall", lambda f: f.stall(5.0)),
    ("delay", lambda f: f.delay(0.5, 3.0)),
    ("duplicate", lambda f: f.duplicate(5)),
    ("malformed", lambda f: f.malformed(3)),
    ("skip_final", lambda f: f.skip_final(3)),
    ("trade_gap", lambda f: f.trade_gap(5)),
    ("depth_gap", lambda f: f.depth_gap(1)),
    ("age_limit", lambda f: f.connection_age_limit()),
    ("shutdown", lambda f: f.server_shutdown(1.0)),
    ("rest_429", lambda f: f.rest_errors(429, 3, 1.0)),
    ("rest_418", lambda f: f.rest_errors(418, 1, 2.0)),
    ("rest_5xx", lambda f: f.rest_errors(503, 5)),
    ("rest_latency", lambda f: f.rest_latency(0.3)),
    ("downtime", lambda f: f.downtime(120_000)),
)


@dataclass
class Tally:
    """One phase's account (or the sum of several)."""

    phase: str
    clients: int = 0
    messages: int = 0
    reconnects: int = 0
    faults: int = 0
    kills: int = 0
    missing: int = 0
    extra: int = 0
    wrong_closed: int = 0
    stale: int = 0
    duplicates: int = 0
    lost_trades: int = 0
    trade_resets: int = 0
    book_views: int = 0
    book_mismatches: int = 0
    liquidations: int = 0
    lost_liquidations: int = 0
    tracebacks: int = 0
    max_rss_mib: float = 0.0
    notes: list[str] = field(default_factory=list)
    fault_kinds: set[str] = field(default_factory=set)
    missed_faults: int = 0  # fault kinds the phase was too short to inject: a failed soak

    LOSSES = (
        "missing",
        "extra",
        "wrong_closed",
        "stale",
        "duplicates",
        "lost_trades",
        "lost_liquidations",
    )

    @property
    def lost(self) -> int:
        return sum(int(getattr(self, name)) for name in self.LOSSES) + self.book_mismatches

    def add(self, other: Tally) -> None:
        for name, value in vars(other).items():
            if isinstance(value, int) and name != "clients":
                setattr(self, name, getattr(self, name) + value)
        self.clients += other.clients
        self.max_rss_mib = max(self.max_rss_mib, other.max_rss_mib)
        self.notes += other.notes


# -- the account ---------------------------------------------------------------------
@dataclass(frozen=True)
class Stopped:
    """Virtual times of a phase's end: when the clients were told, and once they had."""

    told_ms: int
    done_ms: int


class Truth:
    """The exchange's candles of each topic over a phase, computed once for all clients."""

    def __init__(self, sim: SimExchange, stopped: Stopped, first_ms: int) -> None:
        self.sim, self.stopped, self.first_ms = sim, stopped, first_ms
        self._topics: dict[str, list[Any]] = {}

    def klines(self, key: str, first_s: int, last_s: int) -> list[Any]:
        if key not in self._topics:
            symbol, code = key.split(":")
            # Every candle a client could have received had opened once they had stopped.
            self._topics[key] = self.sim.truth.klines(
                symbol, Interval.parse(code), self.first_ms, self.stopped.done_ms,
                self.stopped.done_ms,
            )  # fmt: skip
        candles = self._topics[key]
        return [c for c in candles if first_s <= c.time <= last_s]


def check_candles(
    tally: Tally, truth_of: Truth, key: str, rows: list[list[Any]], stopped: Stopped
) -> None:
    interval = Interval.parse(key.split(":")[1])
    rows.sort()
    times = [row[0] for row in rows]
    truth = truth_of.klines(key, times[0], times[-1])
    true_times = [candle.time for candle in truth]
    tally.missing += len(set(true_times) - set(times))
    tally.extra += len(set(times) - set(true_times))
    by_time = {row[0]: row for row in rows}
    for candle in truth[:-1]:
        row = by_time.get(candle.time)
        want = [candle.time, candle.open, candle.high, candle.low, candle.close, candle.volume]
        if row is not None and (row[:6] != want or row[6] is not True):
            tally.wrong_closed += 1
            if len(tally.notes) < 10:
                tally.notes.append(f"{key} {candle.time}: held {row}, exchange {want}")
    current = interval.floor(stopped.told_ms) // 1000
    if times[-1] < current - 2 * interval.nominal_ms // 1000:
        tally.stale += 1
        if len(tally.notes) < 10:
            tally.notes.append(f"{key} stale: newest {times[-1]}, exchange at {current}")


def check_trades(tally: Tally, segments: list[list[int]]) -> None:
    """Ids missing from the tape the client holds: its last segment. A ``reset`` told
    it to drop what it held (ids passed out of the hub's reach: the hub said so), so the
    segments before one are not held; resets are counted beside, not as losses."""
    tally.trade_resets += max(0, len(segments) - 1)
    if segments and segments[-1]:
        ids = set(segments[-1])
        tally.lost_trades += max(ids) - min(ids) + 1 - len(ids)


@functools.cache
def true_top(sim: SimExchange, symbol: str, update_id: int) -> tuple[list[Any], list[Any]]:
    """The true book's top 20 one-tick buckets, as clients follow it (orders resting
    between two ticks fall into a bucket)."""
    spec = sim.truth.tape.spec(symbol)
    snapshot = MarketFormatter(spec).depth_snapshot(sim.book_at(symbol, update_id), BOOK_LEVELS)
    book = OrderBook(SyncRule.SPOT)
    book.on_snapshot(parse_depth_snapshot(snapshot))
    view = aggregate(book, 20, Decimal(1).scaleb(-spec.price_decimals), spec.qty_decimals)

    def side(levels: tuple[ViewLevel, ...]) -> list[Any]:
        return [[float(level.price), float(level.amount)] for level in levels]

    return side(view.bids), side(view.asks)


def check_books(tally: Tally, sim: SimExchange, views: list[dict[str, Any]]) -> None:
    for view in views:
        tally.book_views += 1
        bids, asks = true_top(sim, view["symbol"], view["update_id"])
        if (view["bids"], view["asks"]) != (bids, asks):
            tally.book_mismatches += 1
            if len(tally.notes) < 10:
                tally.notes.append(f"book {view['symbol']} at {view['update_id']} differs")


def account(
    tally: Tally, sim: SimExchange, results: list[dict[str, Any]], stopped: Stopped
) -> None:
    firsts = [min(row[0] for row in rows) for c in results for rows in c["series"].values() if rows]
    truth = Truth(sim, stopped, min(firsts, default=0) * 1000)
    for client in results:
        tally.clients += 1
        tally.messages += client["messages"]
        tally.reconnects += client["reconnects"]
        tally.duplicates += client["duplicates"]
        for key, rows in client["series"].items():
            if rows:
                check_candles(tally, truth, key, rows, stopped)
        for segments in client["trades"].values():
            check_trades(tally, segments)
        check_books(tally, sim, client["books"])


# -- the audience ----------------------------------------------------------------------
def plans(count: int, urls: list[str], seed: int) -> list[dict[str, Any]]:
    """What each client follows: one or two candle topics, some a book or a tape."""
    topics = list(itertools.product(SYMBOLS, INTERVALS))
    made = []
    for n in range(count):
        rng = (n * 2654435761 + seed) % 2**32
        chosen = [topics[rng % len(topics)]]
        if rng % 3 == 0:
            chosen.append(topics[(rng // 7) % len(topics)])
        made.append(
            {
                "id": n,
                # Half of them take batched frames, as a chart of many topics should.
                "url": urls[n % len(urls)] + ("?batch_ms=50" if n % 2 else ""),
                "topics": sorted(set(chosen)),
                "book": SYMBOLS[(rng // 11) % len(SYMBOLS)] if rng % 10 == 0 else None,
                "trades": SYMBOLS[(rng // 13) % len(SYMBOLS)] if rng % 10 == 1 else None,
            }
        )
    return made


@contextlib.asynccontextmanager
async def audience(count: int, urls: list[str], processes: int) -> AsyncIterator[Path]:
    """Client processes following the nodes at ``urls``; yields the folder of results."""
    folder = Path(tempfile.mkdtemp(prefix="marketcast-soak-"))
    stop = folder / "stop"
    everyone = plans(count, urls, seed=len(urls))
    runs = []
    for n in range(processes):
        share = everyone[n::processes]
        (folder / f"plan-{n}.json").write_bytes(orjson.dumps(share))
        runs.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(CLIENTS_SCRIPT),
                str(folder / f"plan-{n}.json"),
                str(folder / f"results-{n}.json"),
                str(stop),
            )
        )
    try:
        yield folder
    finally:
        stop.touch()
        for run in runs:
            try:
                async with asyncio.timeout(120):
                    await run.wait()
            except TimeoutError:
                run.kill()


async def converge(folder: Path, sim: SimExchange, processes: int) -> float | None:
    """Wait until every client process reports its clients caught up with the exchange
    clock it is given (``clock``; see ``clients.py``); return how long that took, or
    ``None`` past :data:`CONVERGE_S`."""
    started = time.monotonic()
    asked_ms = sim.clock.now_ms()
    while (waited := time.monotonic() - started) < CONVERGE_S:
        (folder / "clock").write_text(str(sim.clock.now_ms()))
        reports = [folder / f"progress-{n}.json" for n in range(processes)]
        if all(report.exists() for report in reports):
            states = [orjson.loads(report.read_bytes()) for report in reports]
            if all(
                s["clock_ms"] >= asked_ms and s["behind"] == s["open_holes"] == 0 for s in states
            ):
                return waited
        await asyncio.sleep(0.5)
    return None


def results_in(folder: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(folder.glob("results-*.json")):
        found += orjson.loads(path.read_bytes())
    return found


def bug_lines(log: Path) -> list[str]:
    """The lines of a node's log that show a bug (:data:`BUG_MARKERS`)."""
    lines = log.read_text(errors="replace").splitlines()
    return [line for line in lines if any(marker in line for marker in BUG_MARKERS)]


# -- the nodes ---------------------------------------------------------------------------
def node(name: str, sim: SimExchange, relay: Relay, *flags: str) -> NodeProcess:
    """A node on ``sim`` whose USD-M streams (in the soak: its liquidations) pass
    through ``relay``."""
    common = (
        f"--symbols={','.join(SYMBOLS)}",
        f"--intervals={','.join(INTERVALS)}",
        "--buffer-size=1000",
        # After NodeProcess's own --futures-ws-base: the last one given wins.
        f"--futures-ws-base={relay.base}",
    )
    return NodeProcess(
        name, *common, *flags, rest_base=sim.rest_base, ws_base=sim.ws_base, env=NODE_ENV
    )


def rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(ln for ln in status.splitlines() if ln.startswith("VmRSS")).split()[1]) * 1024


class Watch:
    """Samples the nodes' resident memory once a second."""

    def __init__(self) -> None:
        self.nodes: list[NodeProcess] = []
        self.max_rss = 0

    async def run(self) -> None:
        while True:
            for each in self.nodes:
                if each.running:
                    with contextlib.suppress(OSError, StopIteration):
                        self.max_rss = max(self.max_rss, rss_bytes(each.process.pid))
            await asyncio.sleep(1.0)


async def inject_faults(sim: SimExchange, every_s: float, tally: Tally) -> None:
    for name, fault in itertools.cycle(FAULTS):
        await asyncio.sleep(every_s)
        fault(sim.faults)
        tally.faults += 1
        tally.fault_kinds.add(name)
        if name == "rest_latency":
            await asyncio.sleep(every_s / 2)
            sim.faults.rest_latency(0)


async def phase(
    name: str,
    sim: SimExchange,
    *,
    nodes: dict[str, NodeProcess],
    relays: dict[str, Relay],
    serve: list[str],
    seconds: float,
    clients: int,
    kills: list[tuple[float, Callable[[], Any]]],
) -> Tally:
    """Run ``clients`` against the ``serve`` nodes for ``seconds`` with faults and
    ``kills`` (at fractions of the phase), then settle and account; ``relays`` are the
    nodes' (by the same names)."""
    tally = Tally(name)
    say(f"{name}: {clients} clients for {seconds:.0f} s")
    watch = Watch()
    watch.nodes = list(nodes.values())
    watcher = asyncio.create_task(watch.run())
    try:
        for each in nodes.values():
            await each.wait_ready()
        urls = [nodes[n].ws + "/ws" for n in serve]
        processes = max(1, min(4, clients // 100))
        async with audience(clients, urls, processes=processes) as folder:
            started = time.monotonic()
            # Spaced so that every kind comes once in each phase, whatever its length.
            every_s = seconds / (len(FAULTS) + 1)
            faults = asyncio.create_task(inject_faults(sim, every_s, tally))
            for at, kill in kills:
                await asyncio.sleep(max(0.0, started + at * seconds - time.monotonic()))
                await kill()
                tally.kills += 1
                say(f"{name}: kill {tally.kills} done")
            await asyncio.sleep(max(0.0, started + seconds - time.monotonic()))
            faults.cancel()
            if missed := [kind for kind, _ in FAULTS if kind not in tally.fault_kinds]:
                tally.missed_faults += len(missed)
                tally.notes.append(f"{name}: fault kinds not injected: {', '.join(missed)}")
            say(f"{name}: {tally.faults} faults injected; waiting for the clients to converge")
            sim.faults.clear_rest_errors()
            sim.faults.rest_latency(0)
            for each in nodes.values():
                if each.running:
                    await each.wait_ready()
            waited = await converge(folder, sim, processes)
            if waited is None:
                tally.notes.append(f"{name}: clients did not converge in {CONVERGE_S:.0f} s")
            else:
                tally.notes.append(f"{name}: clients converged {waited:.1f} s after the faults")
            told_ms = sim.clock.now_ms()
        stopped = Stopped(told_ms, sim.clock.now_ms())
        served = [(nodes[n].http, relays[n]) for n in serve]
        liquidations = await account_liquidations(served, SYMBOLS)
    finally:
        watcher.cancel()
        for each in nodes.values():
            each.stop()
    tally.liquidations, tally.lost_liquidations = liquidations.delivered, liquidations.lost
    tally.notes += [f"{name}: liquidations: {note}" for note in liquidations.notes]
    if liquidations.near_kill:
        tally.notes.append(
            f"{name}: {liquidations.near_kill} liquidations delivered just before a node was "
            "killed, not counted"
        )
    for each in nodes.values():
        found = bug_lines(each.log)
        tally.tracebacks += len(found)
        tally.notes += [f"{each.log.name}: {line[:300]}" for line in found[:3]]
    # The account is CPU work on this process's loop, which serves the simulator: it runs
    # with no node left to starve.
    account(tally, sim, results_in(folder), stopped)
    tally.max_rss_mib = watch.max_rss / 2**20
    return tally


async def soak(minutes: float, clients: int, seed: int = 7) -> list[Tally]:
    seconds = minutes * 60 / 3
    config = SimConfig(
        seed=seed, symbols=SYMBOLS, start_ms=START_MS, speed=SPEED, push_interval_s=0.5
    )
    tallies = []
    async with contextlib.AsyncExitStack() as stack:
        sim = await stack.enter_async_context(SimExchange(config))
        redis = await stack.enter_async_context(RedisProcess())
        relays: dict[str, Relay] = {}  # by the node's name in its phase

        async def relayed(key: str, name: str, *flags: str) -> NodeProcess:
            relays[key] = await stack.enter_async_context(Relay(sim.ws_base))
            return node(name, sim, relays[key], *flags)

        memory = {"memory": await relayed("memory", "soak-memory")}
        tallies.append(
            await phase(
                "memory", sim, nodes=memory, relays=relays, serve=["memory"],
                seconds=seconds, clients=clients, kills=[],
            )
        )  # fmt: skip

        redis_flags = ("--store=redis", f"--redis-url={redis.url}")
        single = {
            "redis": await relayed("redis", "soak-redis", *redis_flags, "--redis-prefix=soak1:")
        }

        async def kill_node() -> None:
            single["redis"].kill()
            relays["redis"].node_killed()  # dead: from here on deliveries reach its restart
            single["redis"].restart()

        async def kill_redis() -> None:
            await redis.kill()
            await asyncio.sleep(3.0)
            await redis.start()

        kills = [(1 / 3, kill_node), (2 / 3, kill_redis)]
        tallies.append(
            await phase(
                "redis", sim, nodes=single, relays=relays, serve=["redis"], seconds=seconds,
                clients=clients, kills=kills,
            )
        )  # fmt: skip

        shared = (*redis_flags, "--redis-prefix=soak2:")
        cluster = {
            "ingest-a": await relayed("ingest-a", "soak-ingest-a", *shared, "--role=ingest"),
            "ingest-b": await relayed("ingest-b", "soak-ingest-b", *shared, "--role=ingest"),
            "api": await relayed("api", "soak-api", *shared, "--role=api"),
        }

        async def kill_leader() -> None:
            ingest = {k: v for k, v in cluster.items() if k.startswith("ingest")}
            leader = await leader_of(ingest)
            leader.kill()
            relays[next(k for k, v in ingest.items() if v is leader)].node_killed()

        tallies.append(
            await phase(
                "cluster", sim, nodes=cluster, relays=relays, serve=["api"], seconds=seconds,
                clients=clients, kills=[(1 / 2, kill_leader)],
            )
        )  # fmt: skip
    return tallies


COLUMNS = [
    "clients",
    "messages",
    "reconnects",
    "faults",
    "kills",
    "missing",
    "extra",
    "wrong_closed",
    "stale",
    "duplicates",
    "lost_trades",
    "trade_resets",
    "book_views",
    "book_mismatches",
    "liquidations",
    "lost_liquidations",
    "tracebacks",
    "max_rss_mib",
]


def table(tallies: list[Tally]) -> str:
    total = Tally("total")
    for tally in tallies:
        total.add(tally)
    rows = [["phase", *COLUMNS]]
    for tally in [*tallies, total]:
        values = [getattr(tally, column) for column in COLUMNS]
        rows.append(
            [tally.phase, *(f"{v:.0f}" if isinstance(v, float) else str(v) for v in values)]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        " | ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    notes = [f"  {note}" for tally in tallies for note in tally.notes]
    return "\n".join(lines + (["notes:", *notes] if notes else []))


def say(line: str) -> None:
    """Progress on stderr, so a long soak is never silent (the table goes to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    # The simulator keeps writing to connections of nodes the soak kills; asyncio warns
    # about each such write, which says nothing about the hub.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    began = time.monotonic()
    tallies = asyncio.run(soak(args.minutes, args.clients, args.seed))
    print(table(tallies))
    lost = sum(tally.lost for tally in tallies)
    missed = sum(tally.missed_faults for tally in tallies)
    tracebacks = sum(tally.tracebacks for tally in tallies)
    took = time.monotonic() - began
    print(f"{'LOSS' if lost else 'no loss'}: {lost}; tracebacks: {tracebacks}; took {took:.0f} s")
    return 1 if lost or missed or tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
