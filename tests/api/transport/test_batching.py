"""One timer per batch window flushes every session marked in it, once."""

from __future__ import annotations

import asyncio

import pytest

from marketcast.api.transport.batching import BatchWindow


class Session:
    def __init__(self, log: list[str], name: str, fails: bool = False) -> None:
        self.log, self.name, self.fails = log, name, fails

    def flush_batch(self) -> None:
        self.log.append(self.name)
        if self.fails:
            raise RuntimeError("a bug in one session")


async def test_marked_sessions_flush_once_when_the_window_closes() -> None:
    flushed: list[str] = []
    window = BatchWindow(0.05)
    a, b = Session(flushed, "a"), Session(flushed, "b")
    window.mark(a)
    window.mark(b)
    window.mark(a)  # marked again within the window: still one frame
    assert flushed == []  # nothing before the window closes
    await asyncio.sleep(0.1)  # a later timer than the window's: it has fired by then
    assert flushed == ["a", "b"]
    window.mark(b)  # a new window starts with the next mark
    await asyncio.sleep(0.1)
    assert flushed == ["a", "b", "b"]


async def test_one_failing_session_does_not_hold_back_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flushed: list[str] = []
    window = BatchWindow(0)
    window.mark(Session(flushed, "broken", fails=True))
    window.mark(Session(flushed, "fine"))
    await asyncio.sleep(0.01)
    assert flushed == ["broken", "fine"]
    assert "flushing a batched session failed" in caplog.text
