"""A small closed-loop HTTP/1.1 load generator, run in its own process.

``connections`` keep-alive connections each send one GET, read the whole response, and
send the next, until ``duration_s`` has passed or ``max_requests`` were answered (both
bounds always hold). Latency is per request, from just before the write to the last byte
read. A bare asyncio streams client: an HTTP library would cost more per request than the
servers being compared and make the ratio meaningless.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    body_bytes: int
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    def summary(self) -> dict[str, float | int]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 2) if self.latencies_ms else 0,
            "body_bytes": self.body_bytes,
        }


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    """``(status, body length)`` of one response with a Content-Length body."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status, length


async def _connection(
    port: int, request: bytes, deadline: float, budget: list[int], out: list[float]
) -> tuple[int, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    length = 0
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            started = time.perf_counter()
            writer.write(request)
            status, length = await _read_response(reader)
            out.append((time.perf_counter() - started) * 1000)
            if status != 200:
                errors += 1
    finally:
        writer.close()
        await writer.wait_closed()
    return errors, length


@dataclass(frozen=True)
class LoadSpec:
    port: int
    path: str
    connections: int
    duration_s: float
    max_requests: int
    headers: tuple[tuple[str, str], ...]


async def _run(spec: LoadSpec) -> LoadResult:
    port, path, connections = spec.port, spec.path, spec.connections
    duration_s, max_requests = spec.duration_s, spec.max_requests
    extra = "".join(f"{name}: {value}\r\n" for name, value in spec.headers)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n".encode()
    latencies: list[float] = []
    budget = [max_requests]
    started = time.perf_counter()
    deadline = started + duration_s
    results = await asyncio.gather(
        *(_connection(port, request, deadline, budget, latencies) for _ in range(connections))
    )
    seconds = time.perf_counter() - started
    return LoadResult(
        requests=len(latencies),
        errors=sum(e for e, _ in results),
        seconds=seconds,
        body_bytes=max(length for _, length in results),
        latencies_ms=latencies,
    )


def _child(spec: LoadSpec, queue: multiprocessing.Queue[LoadResult]) -> None:
    result = asyncio.run(_run(spec))
    queue.put(result)


def load(
    port: int,
    path: str,
    *,
    connections: int,
    duration_s: float,
    max_requests: int,
    headers: tuple[tuple[str, str], ...] = (),
) -> LoadResult:
    """Run the load from a separate process and return what it measured; every request
    carries ``headers``."""
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[LoadResult] = context.Queue()
    spec = LoadSpec(port, path, connections, duration_s, max_requests, headers)
    child = context.Process(target=_child, args=(spec, queue))
    child.start()
    try:
        result: LoadResult = queue.get(timeout=duration_s + 60)
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    return result
