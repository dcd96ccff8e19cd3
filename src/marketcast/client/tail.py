"""``marketcast tail SYMBOL INTERVAL``: a topic's candles as a table, live, in a terminal.

A quick way to see a hub work: the newest ``history`` candles, then every change as the
client receives it, with the client's guarantees (reconnects, resume, resets). On a
terminal the forming candle is one line rewritten in place until it closes; into a pipe
or a file every change is a line of its own, so the output can be read by a program.
Why the hub is not answering (refused, away, restarting) goes to stderr as it happens.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Final, TextIO

from marketcast.client.events import Reset
from marketcast.client.hub import Client
from marketcast.client.series import Candle

HEADER: Final = (
    f"{'time (UTC)':<19}  {'open':>14}  {'high':>14}  {'low':>14}  {'close':>14}  "
    f"{'volume':>16}  state"
)
_CLEAR_LINE: Final = "\r\x1b[2K"


def row(candle: Candle) -> str:
    """One candle as a table line (numbers to 10 significant digits: exact for prices)."""
    when = datetime.fromtimestamp(candle.time, UTC).strftime("%Y-%m-%d %H:%M:%S")
    numbers = (candle.open, candle.high, candle.low, candle.close)
    prices = "  ".join(f"{value:>14.10g}" for value in numbers)
    state = "closed" if candle.closed else "forming"
    return f"{when:<19}  {prices}  {candle.volume:>16.10g}  {state}"


class Table:
    """Writes rows; on a terminal the forming candle's line is rewritten until it closes."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.in_place = out.isatty()
        self._forming: int | None = None  # open time of the line being rewritten

    def candle(self, candle: Candle) -> None:
        if not self.in_place:
            self._line(row(candle))
            return
        if self._forming is not None and self._forming != candle.time:
            self.out.write("\n")  # that candle's closed version never came: keep its line
        self.out.write(_CLEAR_LINE + row(candle) + ("\n" if candle.closed else ""))
        self.out.flush()
        self._forming = None if candle.closed else candle.time

    def note(self, text: str) -> None:
        if self._forming is not None:
            self.out.write("\n")
            self._forming = None
        self._line(text)

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


async def tail(
    url: str,
    symbol: str,
    interval: str,
    *,
    market: str | None = None,
    token: str | None = None,
    history: int = 20,
    count: int | None = None,
    out: TextIO = sys.stdout,
) -> None:
    """Print ``symbol``'s ``interval`` candles from the hub at ``url`` until interrupted,
    or until ``count`` rows (history included) were printed.

    Raises:
        ClientError: what waiting cannot fix (a wrong token, an unknown symbol).
    """
    table = Table(out)
    table.note(HEADER)
    printed = 0
    async with (
        Client(url, token) as client,
        client.candles(symbol, interval, market=market, history=history) as stream,
    ):
        async for event in stream:
            if isinstance(event, Reset):
                table.note(f"-- the hub could not continue from {event.last_held}: reloaded --")
                continue
            table.candle(event)
            printed += 1
            if count is not None and printed >= count:
                return


def report_to_stderr() -> None:
    """The client's warnings (a hub away, a reconnect) as plain lines on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("marketcast tail: %(message)s"))
    client_log = logging.getLogger("marketcast.client")
    client_log.addHandler(handler)
    client_log.setLevel(logging.INFO)
    client_log.propagate = False
