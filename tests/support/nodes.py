"""Hub nodes as real processes (``marketcast serve``), for tests that kill and restart them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from support.servers import wait_ready

BIN = Path(sys.executable).parent
# Every client of these nodes connects from loopback: the per-address admission limits,
# meant for the internet, would refuse most of a thousand clients opening at once.
LOOPBACK_LIMITS = {
    "MARKETCAST_MAX_CONNECTIONS_PER_IP": "1000000",
    "MARKETCAST_MAX_HANDSHAKES_PER_S": "100000",
    "MARKETCAST_MAX_HANDSHAKES_PER_IP_PER_S": "100000",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class NodeProcess:
    """One ``marketcast serve`` against a simulator; its log goes to a file."""

    def __init__(
        self,
        name: str,
        *flags: str,
        rest_base: str,
        ws_base: str,
        port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.port = port or free_port()
        self.http = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"
        self.args = [
            str(BIN / "marketcast"),
            "serve",
            f"--rest-base={rest_base}",
            f"--ws-base={ws_base}",
            f"--futures-rest-base={rest_base}",
            f"--futures-ws-base={ws_base}",
            f"--port={self.port}",
            f"--node-id={name}",
            *flags,
        ]
        self.env = os.environ | {"MARKETCAST_LOG_LEVEL": "WARNING"} | (env or {})
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"marketcast-node-{name}.log"
        self._log_file = self.log.open("w")
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.args, env=self.env, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    async def health(self) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.http, timeout=2) as client:
            body: dict[str, Any] = (await client.get("/health")).json()
            return body

    async def wait_ready(self, timeout: float = 120) -> None:
        await wait_ready(self.http, timeout, poll_s=0.2, request_timeout=2)

    def kill(self) -> None:
        """``kill -9``: no shutdown, no goodbye to clients or the store."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def restart(self) -> None:
        """Start again on the same port (after :meth:`kill`)."""
        self.process = self._spawn()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log_file.close()


async def leader_of(nodes: dict[str, NodeProcess], timeout: float = 20) -> NodeProcess:
    """The node holding the ingest lease (waits until one does)."""
    async with asyncio.timeout(timeout):
        while True:
            for node in nodes.values():
                if node.running:
                    try:
                        if (await node.health())["upstream"]["node"]["leader"]:
                            return node
                    except (httpx.TransportError, KeyError):
                        pass
            await asyncio.sleep(0.2)
