"""The browser side's HTTP routes over real sockets: ``/`` with and without a built UI,
``/static/*`` (types, 404, containment) and the inspect pages' DOM contracts.

Browser behaviour of the pages is tested in ``tests/browser``; here only what a server
answers. The static directory is redirected to ``tmp_path`` through
``MARKETCAST_WEB_STATIC_DIR``, which the routes read per request, so one hub serves
every test and the package's own ``web/static`` is never touched.
"""

from __future__ import annotations

import asyncio
import gzip
import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio

from marketcast.exchanges.sim import SimConfig
from marketcast.web.files import accepts_gzip, content_type, matches_etag, safe_parts
from marketcast.web.pages import STATIC_DIR_ENV
from support.servers import Running, running_hub, wait_ready

pytestmark = pytest.mark.timeout(60)
# Per test, not in ``pytestmark``: the pure tests at the bottom are not coroutines.
on_hub_loop = pytest.mark.asyncio(loop_scope="module")

SIM = SimConfig(seed=5, symbols=("BTCUSDT", "ETHUSDT"), start_ms=1_714_521_600_000, speed=60.0)
INDEX = "<!doctype html><title>built app</title><div id='app'></div>"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub() -> AsyncIterator[Running]:
    # Candles only: these pages are static files and documents; the books' and trades'
    # simulated flow at 60x would be most of this module's CPU on a loaded machine.
    async with running_hub(
        SIM, symbols=("BTCUSDT", "ETHUSDT"), intervals=("1m",), feeds=()
    ) as running:
        await wait_ready(running.http)
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def client(hub: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub.http, timeout=10.0) as http:
        yield http


@pytest.fixture
def static(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty static directory the hub serves from, with a secret file beside it."""
    root = tmp_path / "static"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("outside")
    monkeypatch.setenv(STATIC_DIR_ENV, str(root))
    return root


async def raw_status(http: str, target: str) -> int:
    """Send ``target`` byte for byte (clients normalise ``..``) and return the status."""
    origin = urlsplit(http)
    assert origin.hostname is not None
    assert origin.port is not None
    reader, writer = await asyncio.open_connection(origin.hostname, origin.port)
    try:
        request = f"GET {target} HTTP/1.1\r\nHost: {origin.netloc}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode("latin-1"))
        await writer.drain()
        status_line = await reader.readline()
        return int(status_line.split()[1])
    finally:
        writer.close()
        await writer.wait_closed()


@on_hub_loop
async def test_root_explains_how_to_build_when_ui_is_not_built(
    client: httpx.AsyncClient, static: Path
) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "not built" in page
    assert "make ui" in page
    assert "npm" in page
    for link in ('href="/inspect"', 'href="/inspect-ws"', 'href="/health"'):
        assert link in page


@on_hub_loop
async def test_root_falls_back_when_static_dir_does_not_exist(
    client: httpx.AsyncClient, static: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STATIC_DIR_ENV, str(static / "never-built"))
    response = await client.get("/")
    assert response.status_code == 200
    assert "make ui" in response.text


@on_hub_loop
async def test_root_serves_built_index_uncached(client: httpx.AsyncClient, static: Path) -> None:
    (static / "index.html").write_text(INDEX)
    response = await client.get("/")
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"


@on_hub_loop
async def test_ui_built_after_start_is_served_without_restart(
    client: httpx.AsyncClient, static: Path
) -> None:
    assert "make ui" in (await client.get("/")).text
    (static / "index.html").write_text(INDEX)
    (static / "app.js").write_text("console.log(1)")
    assert (await client.get("/")).text == INDEX
    assert (await client.get("/static/app.js")).status_code == 200


@on_hub_loop
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("app.js", "text/javascript"),
        ("app.css", "text/css"),
        ("app.js.map", "application/json"),
        ("assets/logo.svg", "image/svg+xml"),
    ],
)
async def test_static_assets_carry_browser_content_types(
    client: httpx.AsyncClient, static: Path, name: str, expected: str
) -> None:
    target = static / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("x")
    response = await client.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.text == "x"
    assert response.headers["content-type"].split(";")[0] == expected


@on_hub_loop
@pytest.mark.parametrize("name", ["missing.js", "", "assets", "assets/"])
async def test_missing_static_files_and_directories_are_404(
    client: httpx.AsyncClient, static: Path, name: str
) -> None:
    (static / "assets").mkdir()
    response = await client.get(f"/static/{name}")
    assert response.status_code == 404


@on_hub_loop
@pytest.mark.parametrize(
    "target",
    [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/..%2fsecret.txt",
        "/static/assets/../../secret.txt",
        "/static/%2Fetc%2Fpasswd",
        "/static//etc/passwd",
        "/static/..%5csecret.txt",
    ],
)
async def test_static_refuses_paths_outside_its_directory(
    hub: Running, static: Path, target: str
) -> None:
    (static / "assets").mkdir()
    assert await raw_status(hub.http, target) in (400, 404)


@on_hub_loop
async def test_static_refuses_symlinks_leading_outside(
    client: httpx.AsyncClient, static: Path
) -> None:
    (static / "link.txt").symlink_to(static.parent / "secret.txt")
    assert (await client.get("/static/link.txt")).status_code == 404


@on_hub_loop
async def test_gzip_twin_is_sent_to_browsers_that_accept_it(
    client: httpx.AsyncClient, static: Path
) -> None:
    body = "console.log('marketcast');" * 200
    (static / "app.js").write_text(body)
    (static / "app.js.gz").write_bytes(gzip.compress(body.encode()))
    zipped = await client.get("/static/app.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["vary"]
    assert int(zipped.headers["content-length"]) < len(body) / 10
    assert zipped.text == body  # httpx decodes it: the twin holds the same file
    plain = await client.get("/static/app.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.text == body
    refused = await client.get("/static/app.js", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
    assert (await client.get("/static/app.js.gz")).status_code == 404
    # Rebuilt without a new twin (npm run watch): the stale twin is not served.
    os.utime(static / "app.js.gz", ns=(0, 0))
    (static / "app.js").write_text("rebuilt();")
    rebuilt = await client.get("/static/app.js", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in rebuilt.headers
    assert rebuilt.text == "rebuilt();"


@on_hub_loop
async def test_head_answers_like_get_without_a_body(
    client: httpx.AsyncClient, static: Path
) -> None:
    (static / "app.css").write_text("body { color: red }")
    (static / "index.html").write_text(INDEX)
    for path in ("/static/app.css", "/", "/docs", "/inspect"):
        head = await client.head(path)
        get = await client.get(path)
        assert head.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]


@on_hub_loop
async def test_a_revalidating_browser_gets_304_until_the_file_changes(
    client: httpx.AsyncClient, static: Path
) -> None:
    asset = static / "app.js"
    asset.write_text("one")
    first = await client.get("/static/app.js")
    assert first.headers["cache-control"] == "no-cache"
    etag = first.headers["etag"]
    again = await client.get("/static/app.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    asset.write_text("two, rebuilt")
    changed = await client.get("/static/app.js", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.text == "two, rebuilt"
    assert changed.headers["etag"] != etag


def test_accepts_gzip_reads_quality_values() -> None:
    assert accepts_gzip("gzip, deflate, br")
    assert accepts_gzip("br;q=1.0, gzip;q=0.8")
    assert accepts_gzip("*")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("identity")
    assert not accepts_gzip(None)


def test_matches_etag_takes_lists_weak_forms_and_star() -> None:
    assert matches_etag('"a", "b"', '"b"')
    assert matches_etag('W/"b"', '"b"')
    assert matches_etag("*", '"b"')
    assert not matches_etag('"a"', '"b"')
    assert not matches_etag(None, '"b"')


@on_hub_loop
async def test_docs_page_says_how_to_build_when_swagger_ui_is_missing(
    client: httpx.AsyncClient, static: Path
) -> None:
    missing = await client.get("/docs")
    assert missing.status_code == 200
    assert 'id="not-built"' in missing.text
    bundle = static / "docs" / "swagger-ui-bundle.js"
    bundle.parent.mkdir()
    bundle.write_text("window.SwaggerUIBundle = () => {};")
    page = (await client.get("/docs", params={"token": 'a"b<c'})).text
    assert "/static/docs/swagger-ui-bundle.js?token=a%22b%3Cc" in page
    assert 'a"b<c' not in page  # the token cannot break out of the markup


def test_safe_parts_keeps_only_segments_below_the_root() -> None:
    assert safe_parts("a//./b.js") == ("a", "b.js")
    for refused in ("", ".", "../x", "a/../../x", "/etc/passwd", "a\\..\\x", "a\x00.js"):
        assert safe_parts(refused) is None, refused


def test_content_type_falls_back_to_octet_stream() -> None:
    assert content_type("APP.JS").startswith("text/javascript")
    assert content_type("blob.unknownext") == "application/octet-stream"


@on_hub_loop
async def test_inspect_page_carries_its_dom_contract(client: httpx.AsyncClient) -> None:
    response = await client.get("/inspect")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<table id="topics">' in page
    assert "<tbody>" in page
    assert "dataset.topic" in page  # rows are tr[data-topic=...]
    for cell in ("count", "first", "last", "continuity", "age", "subscribers"):
        assert f'"{cell}"' in page, cell
    assert 'id="updated"' in page
    assert "window.inspectState" in page
    assert "/streaming/status" in page


@on_hub_loop
async def test_status_topics_use_the_form_inspect_rows_are_keyed_by(
    client: httpx.AsyncClient,
) -> None:
    topics = (await client.get("/streaming/status")).json()["topics"]
    assert {t["topic"] for t in topics} == {"BTCUSDT:1m", "ETHUSDT:1m"}


@on_hub_loop
async def test_inspect_ws_page_carries_its_dom_contract(client: httpx.AsyncClient) -> None:
    response = await client.get("/inspect-ws?channel=candles&symbol=BTCUSDT&interval=1m")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for element in (
        '<select id="channel">',
        'id="symbol" value="BTCUSDT"',
        'id="interval" value="1m"',
        'id="params"',
        'id="subscribe"',
        'id="clear"',
        'id="log"',
        'id="count"',
    ):
        assert element in page, element
    for channel in ("candles", "trades", "orderbook", "liquidations"):
        assert f"<option>{channel}</option>" in page
    assert "window.inspectWsState" in page
    assert '"message"' in page  # log entries are .message elements
    assert "/ws" in page
