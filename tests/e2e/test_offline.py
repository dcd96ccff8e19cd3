"""A node that cannot reach the exchange says so once, names the way out, and stays quiet."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import httpx
import pytest

from support.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

UNREACHABLE = "127.0.0.1:9"  # the discard port: nothing listens, connects are refused
WATCHED_S = 65.0  # past the first minute, so the outages' summaries are counted too


async def test_an_unreachable_exchange_costs_few_log_lines_and_names_make_demo() -> None:
    port = free_port()
    bases = [f"--rest-base=http://{UNREACHABLE}", f"--ws-base=ws://{UNREACHABLE}"]
    bases += [f"--futures-rest-base=http://{UNREACHABLE}", f"--futures-ws-base=ws://{UNREACHABLE}"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "marketcast.cli", "serve", f"--port={port}", *bases,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ | {"MARKETCAST_LOG_LEVEL": "INFO"},
    )  # fmt: skip
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        while time.monotonic() - started < WATCHED_S:
            try:
                health = (await client.get("/health")).json()
            except httpx.TransportError:
                health = None  # not listening yet
            await asyncio.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, err = await process.communicate()
    lines = err.decode().splitlines()
    assert health is not None
    assert health["status"] == "degraded"
    print(f"\n{len(lines)} log lines in {WATCHED_S:.0f} s with the exchange unreachable")
    assert len(lines) <= 20, "\n".join(lines)
    assert len([line for line in lines if "make demo" in line]) == 1
    assert not [line for line in lines if "Traceback" in line or " ERROR " in line]
