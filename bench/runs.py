"""What every benchmark result records beside its figures: spread over runs, CPU, load.

A figure is the median of several runs with their minimum and maximum, so a reader sees
how far one run may stray; each run records the machine's load average when it started
and how fast it ran plain Python then, so a run on a busy or slow machine shows as one;
and wall figures come with CPU seconds, which a shared machine disturbs far less than
wall time.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from typing import Any


def at_start() -> dict[str, Any]:
    """What a run records of the machine as it starts: how busy and how fast it is."""
    return {"load_average": load_average(), "python_step_ns": round(python_step_ns(), 1)}


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, as ``uptime`` shows them."""
    return [round(value, 2) for value in os.getloadavg()]


def python_step_ns(steps: int = 1_000_000, repeats: int = 5) -> float:
    """Nanoseconds per step of a plain Python loop, the fastest of ``repeats``.

    Instances of one machine kind differ in speed by far more than a run's spread, and
    one instance's speed drifts with its neighbours' load; a run that records this
    figure says how fast the machine was as it started. Absolute figures compare only
    between runs where it is alike.
    """
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        total = 0
        for step in range(steps):
            total += step
        best = min(best, time.perf_counter() - started)
    return best / steps * 1e9


def spread(values: Sequence[float], digits: int = 3) -> dict[str, Any]:
    """``{"median", "min", "max", "runs"}`` of ``values``, rounded to ``digits``."""
    if not values:
        raise ValueError("no runs")
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "runs": [round(value, digits) for value in values],
    }


def describe(figure: dict[str, Any], unit: str = "") -> str:
    """``median (min-max) unit`` of a :func:`spread`."""
    suffix = f" {unit}" if unit else ""
    return f"{figure['median']:g} ({figure['min']:g}-{figure['max']:g}){suffix}"
