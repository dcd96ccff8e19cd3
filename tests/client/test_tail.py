"""``marketcast tail``: the history and then live rows against a real hub, a clear exit on
a refusal, and the forming candle rewritten in place on a terminal."""

from __future__ import annotations

import asyncio
import io
import sys

import pytest

from marketcast.client import Candle
from marketcast.client.tail import HEADER, Table, row
from marketcast.exchanges.sim import SimConfig
from support.servers import running_hub, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

SIM = SimConfig(
    seed=5, symbols=("BTCUSDT",), start_ms=1_780_272_000_000, speed=60.0, push_interval_s=0.2
)


async def run_tail(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "marketcast.cli",
        "tail",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_tail_prints_the_history_then_live_rows() -> None:
    async with running_hub(SIM, symbols=("BTCUSDT",), intervals=("1m",), feeds=()) as hub:
        await wait_ready(hub.http)
        status, out, err = await run_tail(
            "BTCUSDT", "1m", "--url", hub.http, "--history", "3", "--count", "8"
        )
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == HEADER
    rows = [line.split() for line in lines[1:]]
    assert len(rows) == 8
    times = [f"{r[0]} {r[1]}" for r in rows]
    assert times[:3] == sorted(set(times[:3]))  # the history: three candles, oldest first
    assert times[3:] == sorted(times[3:])  # then live, in order
    assert times[3] >= times[2]
    assert {r[-1] for r in rows} <= {"closed", "forming"}
    assert "forming" in {r[-1] for r in rows[3:]}  # the live candle as it grows


async def test_tail_of_an_unknown_symbol_exits_with_the_hubs_reason() -> None:
    async with running_hub(SIM, symbols=("BTCUSDT",), intervals=("1m",), feeds=()) as hub:
        await wait_ready(hub.http)
        status, _, err = await run_tail("NOPEUSDT", "1m", "--url", hub.http)
    assert status == 1
    assert "marketcast tail:" in err
    assert "NOPEUSDT" in err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def candle(minute: int, close: float, *, closed: bool) -> Candle:
    return Candle(1_780_272_000 + 60 * minute, 100.0, 101.0, 99.5, close, 2.5, closed)


def test_on_a_terminal_the_forming_candle_is_one_line_rewritten_until_it_closes() -> None:
    screen = Terminal()
    table = Table(screen)
    table.candle(candle(0, 100.5, closed=False))
    table.candle(candle(0, 100.75, closed=False))
    table.candle(candle(0, 100.8, closed=True))
    table.candle(candle(1, 100.9, closed=False))
    written = screen.getvalue()
    lines = written.split("\n")
    assert len(lines) == 2  # one finished line, and the forming one still open
    assert lines[0].endswith(row(candle(0, 100.8, closed=True)))
    assert lines[1] == "\r\x1b[2K" + row(candle(1, 100.9, closed=False))
    assert "100.75" in row(candle(0, 100.75, closed=False))
