"""Lists the browser tests' screenshots at the end of the run, so a CI log says where
the pictures of each view are."""

from __future__ import annotations

import pytest

from support.browser import TAKEN


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TAKEN:
        return
    terminalreporter.section("web UI screenshots")
    for shot in TAKEN:
        terminalreporter.write_line(str(shot))
