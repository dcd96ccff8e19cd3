"""What every benchmark result records beside its figures: spread over runs, CPU, load.

A figure is the median of several runs with their minimum and maximum, so a reader sees
how far one run may stray; each run records the machine's load average when it started,
so a run on a busy machine shows as one; and wall figures come with CPU seconds, which a
shared machine disturbs far less than wall time.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from typing import Any


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, as ``uptime`` shows them."""
    return [round(value, 2) for value in os.getloadavg()]


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
