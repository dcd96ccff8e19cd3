"""A node under a flood of handshakes and slow headers keeps answering and gives memory back.

The node runs as ``marketcast demo`` in its own process and the flood comes from two
more, so what is measured is the node's own behaviour, not this test's event loop.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from support.servers import demo_process

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

FLOOD_CLIENTS = Path(__file__).parents[1] / "support" / "flood_clients.py"
PROCESSES, PER_PROCESS, HOLD_S = 2, 1000, 5.0
# Slow headers are cut after this; the flood clients must send theirs within it even on a
# busy machine, so it is not the tightest that would do.
HEADER_TIMEOUT_S = 5.0
SLOWLORIS = 100
# The acceptance bounds: every handshake settled, and /health answered, within these.
SETTLED_WITHIN_S, HEALTH_WITHIN_S = 10.0, 1.0


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def flood(ws_url: str) -> list[dict[str, Any]]:
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(FLOOD_CLIENTS),
            ws_url,
            str(PER_PROCESS),
            str(HOLD_S),
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(PROCESSES)
    ]
    reports = []
    for process in processes:
        out, _ = await process.communicate()
        assert process.returncode == 0
        reports.append(orjson.loads(out))
    return reports


async def poll_health(http: str, latencies: list[float], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=http, timeout=30) as client:
        while not stop.is_set():
            started = time.monotonic()
            assert (await client.get("/health")).status_code == 200
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.05)


async def slowloris(port: int) -> list[float]:
    """Open sockets that send one header line a second; return how long each was held."""
    loop = asyncio.get_running_loop()

    async def one() -> float:
        with socket.socket() as sock:
            sock.setblocking(False)
            await loop.sock_connect(sock, ("127.0.0.1", port))
            opened = time.monotonic()
            await loop.sock_sendall(sock, b"GET /health HTTP/1.1\r\nHost: x\r\n")
            try:
                for n in range(600):
                    await loop.sock_sendall(sock, f"X-Slow-{n}: 1\r\n".encode())
                    try:
                        async with asyncio.timeout(1.0):
                            if await loop.sock_recv(sock, 1024) == b"":
                                break
                    except TimeoutError:
                        continue
            except OSError:
                pass  # reset by the node: closed
            return time.monotonic() - opened

    return list(await asyncio.gather(*(one() for _ in range(SLOWLORIS))))


async def wait_connections(http: str, count: int) -> None:
    async with httpx.AsyncClient(base_url=http) as client, asyncio.timeout(120):
        while (await client.get("/health")).json()["connections"] != count:
            await asyncio.sleep(0.2)


async def test_a_handshake_flood_and_slow_headers_leave_the_node_answering() -> None:
    env = {"MARKETCAST_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S)}
    async with demo_process(env=env) as (http, _, pid):
        ws_url = http.replace("http", "ws", 1) + "/ws"
        port = int(http.rsplit(":", 1)[1])
        rss_before = rss_bytes(pid)
        latencies: list[float] = []
        stop = asyncio.Event()
        poller = asyncio.create_task(poll_health(http, latencies, stop))
        held, reports = await asyncio.gather(slowloris(port), flood(ws_url))
        stop.set()
        await poller
        await wait_connections(http, 0)
        rss_after = rss_bytes(pid)

    outcomes: Counter[str] = Counter()
    for report in reports:
        outcomes.update(report["outcomes"])
    slowest = max(float(report["slowest_s"]) for report in reports)
    print(  # the numbers the closing note quotes
        f"\nflood: {dict(outcomes)}, slowest handshake {slowest:.2f}s; /health max"
        f" {max(latencies):.3f}s over {len(latencies)} polls; slowloris held"
        f" {min(held):.1f}-{max(held):.1f}s; RSS {rss_before / 2**20:.0f} ->"
        f" {rss_after / 2**20:.0f} MiB"
    )
    assert sum(outcomes.values()) == PROCESSES * PER_PROCESS
    assert set(outcomes) <= {"accepted", "429", "503"}, outcomes
    assert outcomes["accepted"] > 0
    assert slowest <= SETTLED_WITHIN_S
    assert max(latencies) <= HEALTH_WITHIN_S
    assert max(held) < HEADER_TIMEOUT_S + 5, "slow headers were held past the timeout"
    assert rss_after <= 1.5 * rss_before
