"""Log lines: text or JSON, one line per event, never a credential."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from marketcast.logs import configure
from support.servers import demo_process

TOKEN = "S3cretTok"


@pytest.fixture
def json_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure("INFO", secrets=(TOKEN,), stream=stream, as_json=True)
    try:
        yield stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_time_level_logger_message_and_extras(json_stream: io.StringIO) -> None:
    logging.getLogger("marketcast.test").warning("sync %s failed", "BTCUSDT:1m", extra={"conn": 7})
    (line,) = lines(json_stream)
    assert line["level"] == "WARNING"
    assert line["logger"] == "marketcast.test"
    assert line["message"] == "sync BTCUSDT:1m failed"
    assert line["conn"] == 7
    assert str(line["time"]).endswith("Z")


def test_json_lines_keep_an_exception_on_one_line_and_hide_credentials(
    json_stream: io.StringIO,
) -> None:
    try:
        raise ValueError(f"GET /ws?token={TOKEN} failed")
    except ValueError:
        logging.getLogger("marketcast.test").exception("with Bearer %s", TOKEN)
    text = json_stream.getvalue()
    assert text.count("\n") == 1
    assert TOKEN not in text
    (line,) = lines(json_stream)
    assert "ValueError" in str(line["exception"])


@pytest.mark.timeout(180)
async def test_a_demo_started_with_json_logs_writes_only_json_lines() -> None:
    flags = ("--log-format", "json", "--auth-token", TOKEN, "--speed", "20")
    async with (
        demo_process(*flags) as (origin, log, _),
        httpx.AsyncClient(base_url=origin) as client,
    ):
        assert (await client.get("/symbols", params={"token": TOKEN})).status_code == 200
        # The page's "simulated clock x20" comes from here (one demo start serves both).
        health = (await client.get("/health", params={"token": TOKEN})).json()
        assert (health["simulated"], health["sim_speed"]) == (True, 20)
    assert len(log) >= 3
    parsed = [json.loads(line) for line in log]  # fails on any line that is not JSON
    assert {"time", "level", "logger", "message"} <= set(parsed[0])
    assert any("started" in str(line["message"]) for line in parsed)
    assert TOKEN not in "".join(log)
