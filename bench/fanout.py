"""Scenario 1, fan-out: N clients x 5 candle subscriptions, latency from the exchange's
event time to client receipt, against a bare ``websockets.broadcast()`` server on the
same clients, in one run.

For each kline push interval (``--push-intervals``; 0.25 s is the realistic 4 Hz on 60
topics, shorter ones push the hub flat out) the run starts a simulator whose clock is the
wall clock, then measures, one after the other with the same client processes and bounds:

- the hub (``marketcast serve``, memory store, 10 symbols x 6 intervals);
- the ceiling (``bench/broadcast_server.py``) reading the same simulator.

Each reports delivered updates/s, frames/s, latency p50/p99/p99.9/max and the server's
CPU share. The result names the highest rate each kept p99 <= 100 ms.

    .venv/bin/python bench/fanout.py --clients 1000 --seconds 10 --push-intervals 0.25,0.05
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from marketcast.config import DEFAULT_INTERVALS, DEFAULT_SYMBOLS
from procs import (
    BIN,
    cpu_seconds,
    free_port,
    hub_args,
    machine,
    process,
    rss_bytes,
    save,
    wait_for,
)
from runs import at_start, describe, spread

HERE = Path(__file__).parent
# The hub's defaults: 10 symbols x 6 intervals = 60 topics.
SYMBOLS, INTERVALS = DEFAULT_SYMBOLS, DEFAULT_INTERVALS
TOPICS = ",".join(f"{s}:{i}" for s in SYMBOLS for i in INTERVALS)
BIN_MS = 0.1  # the clients' histogram resolution (bench/wsclients.py)


def percentile(histogram: dict[int, int], share: float) -> float | None:
    total = sum(histogram.values())
    if not total:
        return None
    rank, seen = share * total, 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return round((index + 1) * BIN_MS, 1)
    return None


async def probe_health(origin: str, probes: list[tuple[float, float]], stop: asyncio.Event) -> None:
    """``GET /health`` every 100 ms until ``stop``: each probe's send time (epoch seconds)
    and latency in ms, ``inf`` for a failure or for no answer within 10 s."""
    async with httpx.AsyncClient(base_url=origin, timeout=10.0) as client:
        while not stop.is_set():
            sent_at, started = time.time(), time.perf_counter()
            try:
                ok = (await client.get("/health")).status_code == 200
            except httpx.HTTPError:
                ok = False
            latency = (time.perf_counter() - started) * 1000 if ok else float("inf")
            probes.append((sent_at, latency))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)


def health_figures(latencies: list[float], prefix: str) -> dict[str, Any]:
    ordered = sorted(latencies)
    if not ordered:
        return {}
    return {
        f"{prefix}_probes": len(ordered),
        f"{prefix}_p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 1),
        f"{prefix}_max_ms": round(ordered[-1], 1),
    }


async def drive(url: str, server_pid: int, args: argparse.Namespace) -> dict[str, Any]:
    """Connect every client, measure one window, merge what the client processes saw.

    Against the hub (a ``/ws`` URL), ``/health`` is probed from the first connection until
    the clients are gone: ``health_*`` over all of it, ``health_held_*`` over the probes
    sent while every client was connected (from the last handshake to the window's end),
    so a stall while thousands connect or drop at once is told apart from one while they
    are held."""
    probes: list[tuple[float, float]] = []
    stop = asyncio.Event()
    prober = None
    if url.endswith("/ws"):
        origin = url.removesuffix("/ws").replace("ws://", "http://", 1)
        prober = asyncio.create_task(probe_health(origin, probes, stop))
    try:
        measured, (held_from, held_until) = await _drive(url, server_pid, args)
    finally:
        stop.set()
        if prober is not None:
            await prober
    if not probes:
        return measured
    while_held = [ms for at, ms in probes if held_from <= at <= held_until]
    return (
        measured
        | health_figures([ms for _, ms in probes], "health")
        | health_figures(while_held, "health_held")
    )


async def _drive(
    url: str, server_pid: int, args: argparse.Namespace
) -> tuple[dict[str, Any], tuple[float, float]]:
    """The figures of one window, and when every client was held (epoch seconds: from the
    last handshake to the window's end)."""
    per = -(-args.clients // args.processes)
    rss_idle = rss_bytes(server_pid)
    children = []
    for first in range(0, args.clients, per):
        command = [
            sys.executable,
            str(HERE / "wsclients.py"),
            f"--url={url}",
            f"--clients={min(per, args.clients - first)}",
            f"--first={first}",
            f"--subscriptions={args.subscriptions}",
            f"--topics={TOPICS}",
        ]
        children.append(
            await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=2**26,  # the report line holds every broadcast's counts
            )
        )
    try:
        connected = 0
        for child in children:
            assert child.stdout is not None
            line = await asyncio.wait_for(child.stdout.readline(), 600)
            if not line.startswith(b"connected"):
                raise RuntimeError(f"a client process failed to connect: {line!r}")
            connected += int(line.split()[1])
        held_from = time.time()
        rss_held = rss_bytes(server_pid)
        print(f"    {connected} clients subscribed; measuring {args.seconds:g} s", flush=True)
        start = time.time() + 1.0
        end = start + args.seconds
        for child in children:
            assert child.stdin is not None
            child.stdin.write(f"go {start} {end}\n".encode())
            await child.stdin.drain()
        await asyncio.sleep(max(0.0, start - time.time()))
        cpu_start = cpu_seconds(server_pid)
        await asyncio.sleep(max(0.0, end - time.time()))
        cpu_end = cpu_seconds(server_pid)
        reports = []
        for child in children:
            assert child.stdout is not None
            reports.append(json.loads(await asyncio.wait_for(child.stdout.readline(), 60)))
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
            await child.wait()
    histogram: dict[int, int] = {}
    for report in reports:
        for index, count in report["histogram"].items():
            histogram[int(index)] = histogram.get(int(index), 0) + count
    updates = sum(r["updates"] for r in reports)
    measured = {
        **broadcast_share(reports, start, end, args),
        "server_rss_mb": round(rss_held / 2**20, 1),
        "server_bytes_per_connection": round((rss_held - rss_idle) / max(connected, 1)),
        "clients": connected,
        "disconnected": sum(r["disconnected"] for r in reports),
        "updates_per_s": round(updates / args.seconds),
        "frames_per_s": round(sum(r["frames"] for r in reports) / args.seconds),
        "undated_updates": sum(r["undated"] for r in reports),
        "p50_ms": percentile(histogram, 0.50),
        "p99_ms": percentile(histogram, 0.99),
        "p999_ms": percentile(histogram, 0.999),
        "max_ms": percentile(histogram, 1.0),
        "server_cpu_share": round((cpu_end - cpu_start) / args.seconds, 2),
    }
    return measured, (held_from, end)


def broadcast_share(
    reports: list[dict[str, Any]], start: float, end: float, args: argparse.Namespace
) -> dict[str, Any]:
    """Share of broadcasts (one topic's update) that reached 95% of that topic's
    subscribers within 250 ms. Updates within a second of the window's edges are left
    out: their receipts straddle it."""
    topics = TOPICS.split(",")
    expected = [0] * len(topics)
    for number in range(args.clients):
        for j in range(args.subscriptions):
            expected[(number * args.subscriptions + j) % len(topics)] += 1
    merged: dict[str, list[int]] = {}
    for report in reports:
        for key, (got, fast) in report["broadcasts"].items():
            counts = merged.setdefault(key, [0, 0])
            counts[0] += got
            counts[1] += fast
    judged = kept = 0
    for key, (_, fast) in merged.items():
        symbol, interval, event_ms = key.split()
        if not start + 1 <= int(event_ms) / 1000 <= end - 1:
            continue
        judged += 1
        kept += fast >= 0.95 * expected[topics.index(f"{symbol}:{interval}")]
    return {
        "broadcasts_judged": judged,
        "share_95pct_within_250ms": round(kept / judged, 4) if judged else None,
    }


@contextmanager
def bench_simulator(push_interval_s: float, aligned: bool) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, HERE / "sim_process.py", str(port), str(push_interval_s)]
    with process(command if aligned else [*command, "--stagger"]):
        origin = f"http://127.0.0.1:{port}"
        wait_for(f"{origin}/api/v3/ping", 30)
        yield origin


def one_rate(push_interval_s: float, args: argparse.Namespace) -> dict[str, Any]:
    print(f"push interval {push_interval_s:g} s on {len(TOPICS.split(','))} topics", flush=True)
    result: dict[str, Any] = {"push_interval_s": push_interval_s, **at_start()}
    with bench_simulator(push_interval_s, args.aligned) as sim:
        port = free_port()
        with process(hub_args(port, sim, SYMBOLS)) as hub:
            wait_for(f"http://127.0.0.1:{port}/ready", 120)
            print("  hub:", flush=True)
            result["hub"] = asyncio.run(drive(f"ws://127.0.0.1:{port}/ws", hub.pid, args))
            print(f"    {result['hub']}", flush=True)
            if args.batch_ms is not None:
                print(f"  hub, batch_ms={args.batch_ms}:", flush=True)
                url = f"ws://127.0.0.1:{port}/ws?batch_ms={args.batch_ms}"
                result["hub_batched"] = asyncio.run(drive(url, hub.pid, args))
                print(f"    {result['hub_batched']}", flush=True)
        port = free_port()
        ws_base = sim.replace("http://", "ws://", 1)
        ceiling_cmd = [sys.executable, HERE / "broadcast_server.py", str(port), ws_base, TOPICS]
        with process(ceiling_cmd) as ceiling:
            time.sleep(1.0)  # its upstream connects; the clients retry nothing
            print("  bare broadcast ceiling:", flush=True)
            result["ceiling"] = asyncio.run(drive(f"ws://127.0.0.1:{port}/", ceiling.pid, args))
            print(f"    {result['ceiling']}", flush=True)
    hub_rate, ceiling_rate = result["hub"]["updates_per_s"], result["ceiling"]["updates_per_s"]
    result["ratio_updates"] = round(hub_rate / ceiling_rate, 3) if ceiling_rate else None
    hub_p99, ceiling_p99 = result["hub"]["p99_ms"], result["ceiling"]["p99_ms"]
    result["ratio_p99"] = round(hub_p99 / ceiling_p99, 3) if hub_p99 and ceiling_p99 else None
    return result


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure of one push rate over its runs: median, min and max."""

    def over(pick: Any) -> dict[str, Any] | None:
        values = [value for run in runs if (value := pick(run)) is not None]
        return spread(values) if values else None

    figures = {
        "ratio_updates": lambda r: r["ratio_updates"],
        "ratio_p99": lambda r: r["ratio_p99"],
        "hub_updates_per_s": lambda r: r["hub"]["updates_per_s"],
        "ceiling_updates_per_s": lambda r: r["ceiling"]["updates_per_s"],
        "hub_p99_ms": lambda r: r["hub"]["p99_ms"],
        "ceiling_p99_ms": lambda r: r["ceiling"]["p99_ms"],
        "hub_bytes_per_connection": lambda r: r["hub"]["server_bytes_per_connection"],
        "ceiling_bytes_per_connection": lambda r: r["ceiling"]["server_bytes_per_connection"],
        "hub_cpu_share": lambda r: r["hub"]["server_cpu_share"],
        "ceiling_cpu_share": lambda r: r["ceiling"]["server_cpu_share"],
        "hub_health_max_ms": lambda r: r["hub"].get("health_max_ms"),
        "hub_health_held_max_ms": lambda r: r["hub"].get("health_held_max_ms"),
    }
    return {name: over(pick) for name, pick in figures.items()}


def best_within(runs: list[dict[str, Any]], side: str, p99_ms: float) -> int | None:
    kept = [
        r[side]["updates_per_s"]
        for r in runs
        if side in r and r[side]["p99_ms"] is not None and r[side]["p99_ms"] <= p99_ms
    ]
    return max(kept) if kept else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--subscriptions", type=int, default=5)
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--push-intervals", default="0.25,0.1,0.05")
    parser.add_argument("--name", default="fanout", help="bench/results/<name>.json")
    parser.add_argument("--runs", type=int, default=3, help="runs per push interval")
    parser.add_argument(
        "--aligned",
        action="store_true",
        help="every kline stream pushes in the same tick (default: each at its own phase, "
        "as Binance's streams do)",
    )
    parser.add_argument(
        "--batch-ms", type=int, default=5, help="also measure /ws?batch_ms=N (-1: don't)"
    )
    args = parser.parse_args()
    if args.batch_ms < 0:
        args.batch_ms = None
    intervals = [float(x) for x in args.push_intervals.split(",")]
    rates = []
    for interval in intervals:
        measured = [one_rate(interval, args) for _ in range(args.runs)]
        rates.append({"push_interval_s": interval, **summary(measured), "runs": measured})
    runs = [run for rate in rates for run in rate["runs"]]
    result = {
        "scenario": "fanout",
        "clients": args.clients,
        "subscriptions_per_client": args.subscriptions,
        "topics": len(TOPICS.split(",")),
        "seconds": args.seconds,
        "pushes": "aligned" if args.aligned else "staggered",
        "rates": rates,
        "hub_best_updates_per_s_p99_le_100ms": best_within(runs, "hub", 100.0),
        "hub_batched_best_updates_per_s_p99_le_100ms": best_within(runs, "hub_batched", 100.0),
        "ceiling_best_updates_per_s_p99_le_100ms": best_within(runs, "ceiling", 100.0),
        "machine": machine(),
        "marketcast": str(BIN / "marketcast"),
    }
    save(args.name, result)
    for rate in rates:
        print(
            f"push {rate['push_interval_s']:g} s over {args.runs} runs: hub/ceiling updates "
            f"{describe(rate['ratio_updates'])}, p99 {describe(rate['ratio_p99'])}; bytes per "
            f"connection hub {describe(rate['hub_bytes_per_connection'])}, ceiling "
            f"{describe(rate['ceiling_bytes_per_connection'])}"
        )
    for run in runs:
        hub, ceiling = run["hub"], run["ceiling"]
        print(
            f"push {run['push_interval_s']:g} s: hub {hub['updates_per_s']} updates/s "
            f"p50 {hub['p50_ms']} p99 {hub['p99_ms']} ms cpu {hub['server_cpu_share']}; "
            f"ceiling {ceiling['updates_per_s']} updates/s p50 {ceiling['p50_ms']} "
            f"p99 {ceiling['p99_ms']} ms cpu {ceiling['server_cpu_share']}; "
            f"ratio {run['ratio_updates']}"
        )
        if batched := run.get("hub_batched"):
            print(
                f"  hub batched: {batched['updates_per_s']} updates/s in "
                f"{batched['frames_per_s']} frames/s, p50 {batched['p50_ms']} "
                f"p99 {batched['p99_ms']} ms cpu {batched['server_cpu_share']}"
            )
    print(f"-> bench/results/{args.name}.json")


if __name__ == "__main__":
    main()
