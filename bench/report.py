"""Turn every ``bench/results/*.json`` into one markdown table per scenario.

.venv/bin/python bench/report.py      # -> bench/results/summary.md
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from procs import RESULTS


def leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted.path, value)`` for every number and string in ``value``, in order."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from leaves(inner, f"{prefix}{key}.")
    elif isinstance(value, list):
        if value and all(isinstance(item, (int, float)) for item in value):
            yield prefix.rstrip("."), ", ".join(f"{item:.3g}" for item in value)
        else:  # one row group per run (fan-out has one per push rate)
            for index, item in enumerate(value):
                yield from leaves(item, f"{prefix}{index}.")
    elif isinstance(value, float):
        yield prefix.rstrip("."), f"{value:.4g}"
    else:
        yield prefix.rstrip("."), value


def table(name: str, result: dict[str, Any]) -> str:
    rows = "\n".join(f"| {path} | {value} |" for path, value in leaves(result))
    return f"## {name}\n\n| metric | value |\n| --- | --- |\n{rows}\n"


def main() -> None:
    files = sorted(RESULTS.glob("*.json"))
    sections = [table(path.stem, json.loads(path.read_text())) for path in files]
    summary = RESULTS / "summary.md"
    summary.write_text("# Benchmark results\n\n" + "\n".join(sections))
    print(f"{len(files)} result files -> {summary}")


if __name__ == "__main__":
    main()
