"""Suite-wide hooks.

- Every coroutine test runs under a deadline its event loop enforces (see
  support/deadline.py for why pytest-timeout alone does not end such a test).
- The browser tests' screenshots are listed at the end of the run. They are taken in
  xdist's worker processes; each one rides to the controller on the report of the test
  phase that took it (``user_properties``), so the list is whole with or without ``-n``.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Generator
from pathlib import Path

import pytest

from support.deadline import SHARE, seconds_for, with_deadline

SCREENSHOT = "screenshot"
_screenshots: list[str] = []


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        seconds = seconds_for(item)
        # Hypothesis tests run many examples per call: they keep pytest-timeout alone.
        if seconds is None or not inspect.iscoroutinefunction(item.obj):
            continue
        item.obj = with_deadline(item.obj, seconds * SHARE)


def _taken() -> list[Path]:
    """This process's screenshots not reported yet (none unless a browser test ran)."""
    browser = sys.modules.get("support.browser")
    taken: list[Path] = getattr(browser, "TAKEN", [])
    return taken


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    taken = _taken()
    report.user_properties.extend((SCREENSHOT, str(path)) for path in taken)
    taken.clear()
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _screenshots.extend(str(value) for name, value in report.user_properties if name == SCREENSHOT)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _screenshots:
        terminalreporter.section("web UI screenshots")
        for path in _screenshots:
            terminalreporter.write_line(path)
