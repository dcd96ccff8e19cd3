"""``/docs`` works offline: Swagger UI from the hub's own assets, behind the token.

Chromium gets every request that leaves loopback aborted (as on a machine without
internet); the page must still list the API's operations, ``/candles`` among them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Request, Route

from marketcast.exchanges.sim import SimConfig
from support.browser import chromium, require_built_ui, screenshot
from support.servers import Running, running_hub

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(180)]

TOKEN = "docs-page-token"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub_and_browser() -> AsyncIterator[tuple[Running, Browser]]:
    require_built_ui()
    config = SimConfig(seed=3, symbols=("BTCUSDT",), start_paused=True)
    async with (
        running_hub(config, symbols=("BTCUSDT",), intervals=("1m",), auth_token=TOKEN, feeds=())
        as hub,
        chromium() as browser,
    ):  # fmt: skip
        yield hub, browser


async def test_docs_list_every_operation_with_the_network_cut_off(
    hub_and_browser: tuple[Running, Browser],
) -> None:
    hub, browser = hub_and_browser
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    blocked: list[str] = []
    failed: list[str] = []

    async def offline(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort("internetdisconnected")

    def request_failed(request: Request) -> None:
        if urlsplit(request.url).hostname in LOOPBACK:
            failed.append(f"{request.url}: {request.failure}")

    await context.route("**/*", offline)
    page = await context.new_page()
    page.on("requestfailed", request_failed)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        await page.goto(f"{hub.http}/docs?token={TOKEN}")
        await page.wait_for_function(
            "() => document.querySelectorAll('.opblock-summary-path').length >= 15",
            timeout=60_000,
        )
        paths = await page.locator(".opblock-summary-path").all_inner_texts()
        await screenshot(page, "api-docs")
    finally:
        await context.close()
    listed = {path.replace("\u200b", "").strip() for path in paths}
    assert {"/candles/{symbol}/{interval}", "/orderbook/{symbol}", "/metrics"} <= listed
    assert not failed, f"loopback requests failed: {failed}"
    assert not errors, f"the page threw: {errors}"
    assert not blocked, f"the page reached for the network: {blocked}"
