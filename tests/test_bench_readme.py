"""The README's benchmark figures are the published results, rendered, not typed."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).parent.parent


def report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readmes_benchmark_table_is_what_bench_published_says() -> None:
    bench = report()
    published = sorted(path.stem for path in (ROOT / "bench" / "published").glob("*.json"))
    assert published == sorted(bench.HEADLINES), "every headline scenario has a result"
    rendered = bench.readme_table()
    assert bench.readme_block((ROOT / "README.md").read_text()) == rendered
    # Each figure is a median with its spread, never a single run's number.
    rows = [line for line in rendered.splitlines() if line.startswith("| ") and "---" not in line]
    assert all("(" in row and "-" in row for row in rows[1:])
