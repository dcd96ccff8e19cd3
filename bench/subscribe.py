"""Subscriptions: candle subscribe operations per second on one node, snapshot included.

A reconnect storm as a node meets it: ``--clients`` WebSocket clients (one load-generator
process, picows) are connected first; then, in each round, every client sends its
``--subscriptions`` subscribe messages at once (``limit`` candles of snapshot each,
topics spread over the node's 60) and the round ends when every snapshot has arrived.
A repeated subscribe is a resume, which the node serves exactly like a first one (a new
snapshot, the old subscription replaced), so each round repeats the same work. The rate
is subscribes over the round's wall time; the hub's CPU seconds over the subscribes give
the CPU cost of one, which a shared machine disturbs far less.

    .venv/bin/python bench/subscribe.py --clients 1000 --subscriptions 10 --limit 100 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from procs import cpu_seconds, free_port, hub_args, machine, process, save, simulator, wait_for
from runs import at_start, describe, spread

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT")
SYMBOLS += ("DOGEUSDT", "ADAUSDT", "AVAXUSDT", "LINKUSDT", "DOTUSDT")
INTERVALS = ("1m", "5m", "15m", "1h", "4h", "1d")
CONNECT_AT_ONCE = 50
# The node's per-connection message rate and handshake limits guard against abuse from
# the internet; here every client is the benchmark, on loopback.
BENCH_LIMITS = {"MARKETCAST_MAX_CLIENT_MESSAGES_PER_S": "100000"}


class Client(WSListener):
    """Counts snapshot frames; ``round_done`` is set once ``expected`` have arrived."""

    def __init__(self) -> None:
        self.expected = 0
        self.round_done = asyncio.Event()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.PING:
            transport.send_pong(frame.get_payload_as_bytes())
        elif frame.msg_type == WSMsgType.TEXT and self.expected:
            payload = frame.get_payload_as_bytes()
            if payload.startswith(b'{"type":"error"'):
                raise RuntimeError(payload[:200].decode())
            self.expected -= payload.count(b'{"type":"snapshot"')
            if self.expected <= 0:
                self.expected = 0
                self.round_done.set()


async def generate(args: argparse.Namespace) -> None:
    """The load generator (a child process): connect, then one round per ``go`` line."""
    topics = [(s, i) for i in INTERVALS for s in SYMBOLS]
    clients: list[tuple[WSTransport, Client, list[bytes]]] = []

    async def open_client(number: int) -> tuple[WSTransport, Client, list[bytes]]:
        picks = [topics[(number * 7 + j) % len(topics)] for j in range(args.subscriptions)]
        messages = [
            orjson.dumps(
                {"op": "subscribe", "channel": "candles", "symbol": s, "interval": i}
                | {"limit": args.limit}
            )
            for s, i in picks
        ]
        transport, client = await ws_connect(Client, args.url, websocket_handshake_timeout=60)
        return transport, client, messages

    for first in range(0, args.clients, CONNECT_AT_ONCE):
        batch = range(first, min(first + CONNECT_AT_ONCE, args.clients))
        clients += await asyncio.gather(*(open_client(n) for n in batch))
    print(f"connected {len(clients)}", flush=True)
    loop = asyncio.get_running_loop()
    while (await loop.run_in_executor(None, sys.stdin.readline)).strip() == "go":
        started = time.perf_counter()
        for transport, client, messages in clients:
            client.expected = len(messages)
            client.round_done.clear()
            for message in messages:
                transport.send(WSMsgType.TEXT, message)
        async with asyncio.timeout(args.round_timeout):
            for _, client, _ in clients:
                await client.round_done.wait()
        seconds = time.perf_counter() - started
        print(json.dumps({"seconds": seconds}), flush=True)
    for transport, _, _ in clients:
        transport.disconnect()


def run(args: argparse.Namespace) -> dict[str, Any]:
    sim_port, hub_port = free_port(), free_port()
    intervals = ["--intervals", ",".join(INTERVALS)]
    with (
        simulator(sim_port) as sim,
        process(hub_args(hub_port, sim, SYMBOLS, *intervals), env=BENCH_LIMITS) as hub,
    ):
        wait_for(f"http://127.0.0.1:{hub_port}/ready", 180)
        flags = [f"--url=ws://127.0.0.1:{hub_port}/ws", f"--clients={args.clients}"]
        flags += [f"--subscriptions={args.subscriptions}", f"--limit={args.limit}"]
        flags += [f"--round-timeout={args.round_timeout}"]
        generator = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--generate",
                *flags,
                f"--round-timeout={args.round_timeout}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert generator.stdin is not None
        assert generator.stdout is not None
        try:
            print(generator.stdout.readline().strip(), flush=True)
            rounds = []
            for number in range(args.runs + 1):  # the first round warms the caches up
                conditions = at_start()
                cpu_before = cpu_seconds(hub.pid)
                generator.stdin.write("go\n")
                generator.stdin.flush()
                line = generator.stdout.readline()
                if not line:
                    raise RuntimeError("the load generator failed (see its output above)")
                seconds = json.loads(line)["seconds"]
                cpu = cpu_seconds(hub.pid) - cpu_before
                operations = args.clients * args.subscriptions
                measured = {
                    "seconds": round(seconds, 3),
                    "subscribes_per_s": round(operations / seconds),
                    "hub_cpu_s": round(cpu, 2),
                    "hub_cpu_us_per_subscribe": round(cpu / operations * 1e6, 1),
                    **conditions,
                }
                label = "warm-up" if number == 0 else f"run {number}/{args.runs}"
                print(f"{label}: {measured}", flush=True)
                if number:
                    rounds.append(measured)
            generator.stdin.write("stop\n")
            generator.stdin.flush()
            generator.wait(60)
        finally:
            if generator.poll() is None:
                generator.kill()
    return {
        "scenario": "subscribe",
        "clients": args.clients,
        "subscriptions_per_client": args.subscriptions,
        "snapshot_candles": args.limit,
        "topics": len(SYMBOLS) * len(INTERVALS),
        "subscribes_per_s": spread([r["subscribes_per_s"] for r in rounds], 0),
        "hub_cpu_us_per_subscribe": spread([r["hub_cpu_us_per_subscribe"] for r in rounds], 1),
        "runs": rounds,
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--subscriptions", type=int, default=10)
    parser.add_argument("--limit", type=int, default=100, help="snapshot candles")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--round-timeout", type=float, default=120.0)
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        uvloop.run(generate(args))
        return
    result = run(args)
    name = save(f"subscribe_limit{args.limit}", result)
    print(
        f"{args.clients} clients x {args.subscriptions} subscribes, {args.limit} candles each: "
        f"{describe(result['subscribes_per_s'], 'subscribes/s')}, hub "
        f"{describe(result['hub_cpu_us_per_subscribe'], 'CPU-us each')} -> {name}"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
