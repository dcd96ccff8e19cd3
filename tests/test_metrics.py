"""The hand-rolled lag histogram renders as prometheus_client's own ``Histogram`` would."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from marketcast.metrics import EXCHANGE_TO_CLIENT, REGISTRY, ExchangeLag


def series(registry: CollectorRegistry, feed: str) -> list[str]:
    text = generate_latest(registry).decode()
    return [
        line
        for line in text.splitlines()
        if line.startswith("marketcast_exchange_to_client_seconds") and f'feed="{feed}"' in line
    ]


def test_lag_histogram_renders_like_the_client_librarys(monkeypatch: pytest.MonkeyPatch) -> None:
    now = 1_800_000_000.0
    monkeypatch.setattr(time, "time", lambda: now)
    ages_s = [0.0, 0.004, 0.005, 0.0051, 0.3, 1.0, 29.0, 31.0, 400.0]
    feed = "test-lag"  # a label set no other test touches: the registry is the process's
    lag = ExchangeLag("spot", feed)
    reference_registry = CollectorRegistry()
    reference = Histogram(
        EXCHANGE_TO_CLIENT.name,
        EXCHANGE_TO_CLIENT.documentation,
        ["market", "feed"],
        buckets=EXCHANGE_TO_CLIENT.bounds,
        registry=reference_registry,
    ).labels("spot", feed)
    for age in ages_s:
        event_ms = round((now - age) * 1000)
        lag.observe(event_ms)
        reference.observe(max(now - event_ms / 1000, 0.0))
    lag.observe(None)  # no event time (a REST fill): not an observation
    ours, theirs = series(REGISTRY, feed), series(reference_registry, feed)
    assert ours == theirs
    assert any('le="+Inf"' in line and line.endswith(" 9.0") for line in ours)
