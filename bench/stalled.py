"""Clients that stop reading, among a thousand that keep reading, in one run.

The fan-out of ``bench/fanout.py`` (N clients x 5 candle topics, latency from the
exchange's event time to receipt) is measured twice on one hub: alone, then with S
stalled clients that subscribe to 3 order books, 3 trade tapes and 3 candle topics and
never read a byte again (a raw socket: a library client would keep draining it into its
own buffers). On loopback the kernel's buffers absorb megabytes for such a client, so the
hub must find it by what it acknowledges. Reports both runs' p99, their ratio, how long
the hub took to close each stalled client (``slow_consumers_closed`` on ``/health``) and
the close code the client reads once it reads again.

    .venv/bin/python bench/stalled.py --clients 1000 --stalled 3 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time
from typing import Any

import httpx
import orjson
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.uri import parse_uri

from fanout import bench_simulator, drive
from marketcast.config import DEFAULT_SYMBOLS
from procs import free_port, hub_args, machine, process, save, wait_for

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


class Stalled:
    """A WebSocket client on a raw socket that reads nothing until told to."""

    def __init__(self, url: str) -> None:
        self.uri = parse_uri(url)
        self.protocol = ClientProtocol(self.uri, max_size=None)
        self.sock = socket.create_connection((self.uri.host, self.uri.port))

    def open(self) -> None:
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        while self.protocol.state.name != "OPEN":
            self.protocol.receive_data(self.sock.recv(65536))
            self.protocol.events_received()

    def send(self, message: dict[str, Any]) -> None:
        self.protocol.send_text(orjson.dumps(message))
        self._flush()

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            self.sock.sendall(chunk)

    def read_until_closed(self, timeout_s: float) -> int | None:
        """Read everything on its way; the close code the server sent, if any."""
        self.sock.settimeout(timeout_s)
        while True:
            data = self.sock.recv(1 << 20)
            self.protocol.receive_data(data)
            for frame in self.protocol.events_received():
                if getattr(frame, "opcode", None) is Opcode.CLOSE:
                    rcvd = self.protocol.close_rcvd
                    return rcvd.code if rcvd is not None else None
            if not data:
                return None


def stall(url: str) -> Stalled:
    client = Stalled(url)
    client.open()
    for symbol in SYMBOLS:
        for channel in ("orderbook", "trades"):
            client.send({"op": "subscribe", "channel": channel, "symbol": symbol})
        sub = {"op": "subscribe", "channel": "candles", "symbol": symbol, "interval": "1m"}
        client.send(sub | {"limit": 1000})
    return client


async def closed_within(http: str, before: int, count: int, started: float) -> list[float]:
    """Seconds from ``started`` until the hub had closed each of ``count`` more clients."""
    times: list[float] = []
    async with httpx.AsyncClient(base_url=http, timeout=5) as client:
        while len(times) < count and time.monotonic() - started < 300:
            closed = (await client.get("/health")).json()["slow_consumers_closed"] - before
            times += [round(time.monotonic() - started, 1)] * (closed - len(times))
            await asyncio.sleep(0.2)
    return times


async def with_stalled(url: str, http: str, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=http) as client:
        before = (await client.get("/health")).json()["slow_consumers_closed"]
    started = time.monotonic()
    stalled = [stall(url) for _ in range(args.stalled)]
    watch = asyncio.create_task(closed_within(http, before, args.stalled, started))
    result = await drive(url, pid, args)
    result["stalled_closed_after_s"] = await watch
    result["stalled_close_codes"] = [s.read_until_closed(60) for s in stalled]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--stalled", type=int, default=3)
    parser.add_argument("--subscriptions", type=int, default=5)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--push-interval", type=float, default=0.25)
    parser.add_argument("--name", default="stalled")
    args = parser.parse_args()
    result: dict[str, Any] = {"scenario": "stalled", "machine": machine(), "args": vars(args)}
    with bench_simulator(args.push_interval, aligned=False) as sim:
        port = free_port()
        symbols = DEFAULT_SYMBOLS  # the topics fanout.drive subscribes to
        with process(hub_args(port, sim, symbols)) as hub:
            http, url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
            wait_for(f"{http}/ready", 120)
            result["alone"] = asyncio.run(drive(url, hub.pid, args))
            print(f"alone: {result['alone']}", flush=True)
            result["with_stalled"] = asyncio.run(with_stalled(url, http, hub.pid, args))
            print(f"with stalled: {result['with_stalled']}", flush=True)
    alone, stalled = result["alone"]["p99_ms"], result["with_stalled"]["p99_ms"]
    result["p99_ratio"] = round(stalled / alone, 2) if alone and stalled else None
    save(args.name, result)
    print(
        f"p99 alone {alone} ms, with {args.stalled} stalled {stalled} ms "
        f"(x{result['p99_ratio']}); stalled closed after "
        f"{result['with_stalled']['stalled_closed_after_s']} s with codes "
        f"{result['with_stalled']['stalled_close_codes']}"
    )


if __name__ == "__main__":
    main()
