"""Private ``redis-server`` processes on loopback ports, for tests that need real Redis.

Fixtures (import them into a test module, or list this module in ``pytest_plugins``):

- ``redis_url``: one server for the whole session, flushed before each test that uses it.
- ``redis_process``: a server of the test's own, for tests that stop, kill or restart it.

Without a ``redis-server`` binary these tests skip, except on CI (``CI=true``) where a
missing binary is a failure: a green CI run must have exercised Redis.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Final

import pytest

_START_TIMEOUT_S: Final = 5.0
_STOP_TIMEOUT_S: Final = 5.0
_POLL_S: Final = 0.01


def redis_binary() -> str:
    """Path of ``redis-server``; skips the test (fails it on CI) when there is none."""
    found = shutil.which("redis-server")
    if found is None and Path("/usr/bin/redis-server").exists():
        found = "/usr/bin/redis-server"
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed, and CI must run the Redis tests")
        pytest.skip("redis-server is not installed")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _flush_all(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(b"FLUSHALL\r\n")
        reply = conn.recv(64)
    if not reply.startswith(b"+OK"):
        raise RuntimeError(f"FLUSHALL failed: {reply!r}")


class RedisProcess:
    """One ``redis-server`` without persistence on ``127.0.0.1:port``.

    ``restart()`` keeps the port, so clients configured with :attr:`url` can reconnect.
    The data does not survive a stop: there is nothing on disk to reload.
    """

    def __init__(self, port: int | None = None, *, binary: str | None = None) -> None:
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _spawn(self) -> subprocess.Popen[bytes]:
        binary = self._binary or redis_binary()
        options = {"port": str(self.port), "bind": "127.0.0.1", "save": "", "appendonly": "no"}
        args = [part for name, value in options.items() for part in (f"--{name}", value)]
        return subprocess.Popen(
            [binary, *args, "--loglevel", "warning"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _poll_start(self, process: subprocess.Popen[bytes]) -> bool | None:
        """True once up, False if it died (the port was taken), None while starting."""
        if _answers_ping(self.port):
            return True
        return False if process.poll() is not None else None

    def start_blocking(self) -> None:
        """Start and wait for PING, without an event loop (for session fixtures)."""
        for _ in range(3):  # a free port can be taken between probing and binding
            process = self._process = self._spawn()
            deadline = time.monotonic() + _START_TIMEOUT_S
            while (up := self._poll_start(process)) is None and time.monotonic() < deadline:
                time.sleep(_POLL_S)
            if up:
                return
            self._reap(signal.SIGKILL)
            if self._fixed_port:
                break
            self.port = free_port()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    async def start(self) -> None:
        """Start and wait until it answers PING."""
        await asyncio.to_thread(self.start_blocking)

    def _reap(self, signum: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signum)
        try:
            process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_blocking(self) -> None:
        self._reap(signal.SIGTERM)

    async def stop(self) -> None:
        """Graceful shutdown (SIGTERM), waiting until the process has exited."""
        await asyncio.to_thread(self._reap, signal.SIGTERM)

    async def kill(self) -> None:
        """Abrupt death (SIGKILL), as in a crashed or OOM-killed Redis."""
        await asyncio.to_thread(self._reap, signal.SIGKILL)

    async def restart(self) -> None:
        """Stop (if running) and start again on the same port."""
        await self.stop()
        self._fixed_port = True
        await self.start()

    async def __aenter__(self) -> RedisProcess:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


_shared: RedisProcess | None = None


def _shared_server(config: pytest.Config) -> RedisProcess:
    global _shared
    if _shared is None or not _shared.running:
        server = RedisProcess(binary=redis_binary())
        server.start_blocking()
        config.add_cleanup(server.stop_blocking)
        _shared = server
    return _shared


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> str:
    """URL of the session's Redis, emptied for this test."""
    server = _shared_server(request.config)
    _flush_all(server.port)
    return server.url


@pytest.fixture
async def redis_process() -> AsyncIterator[RedisProcess]:
    """A Redis of this test's own, free to be stopped, killed and restarted."""
    async with RedisProcess(binary=redis_binary()) as server:
        yield server
