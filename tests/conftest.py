"""Suite-wide hooks: every coroutine test runs under a deadline its event loop enforces
(see support/deadline.py for why pytest-timeout alone does not end such a test)."""

from __future__ import annotations

import inspect

import pytest

from support.deadline import SHARE, seconds_for, with_deadline


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
