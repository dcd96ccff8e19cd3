"""Benchmark results as markdown: every figure of every result, and the README's table.

    .venv/bin/python bench/report.py              # bench/results/*.json -> summary.md
    .venv/bin/python bench/report.py --publish    # copy the headline results into
                                                  # bench/published/, rewrite README's table
    .venv/bin/python bench/report.py --check      # exit 1 if README's table is not
                                                  # what bench/published/ says

The README's figures are never typed by hand: ``--publish`` renders them from the JSON
the harness wrote (medians of runs with min and max, CPU beside wall figures, the load
average at each run's start), and ``tests/test_bench_readme.py`` holds the README to
``bench/published/``, so a figure there is always one a command produced.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
RESULTS = HERE / "results"
PUBLISHED = HERE / "published"
README = HERE.parent / "README.md"
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"
Result = dict[str, Any]


def leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted.path, value)`` for every number and string in ``value``, in order."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from leaves(inner, f"{prefix}{key}.")
    elif isinstance(value, list):
        if value and all(isinstance(item, (int, float)) for item in value):
            yield prefix.rstrip("."), ", ".join(f"{item:.3g}" for item in value)
        else:  # one row group per run
            for index, item in enumerate(value):
                yield from leaves(item, f"{prefix}{index}.")
    elif isinstance(value, float):
        yield prefix.rstrip("."), f"{value:.4g}"
    else:
        yield prefix.rstrip("."), value


def table(name: str, result: Result) -> str:
    rows = "\n".join(f"| {path} | {value} |" for path, value in leaves(result))
    return f"## {name}\n\n| metric | value |\n| --- | --- |\n{rows}\n"


def fig(figure: dict[str, Any] | None, unit: str = "", digits: int = 3) -> str:
    """``median (min-max) unit`` of one spread."""
    if figure is None:
        return "n/a"

    def number(value: float) -> str:
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.{digits}g}"

    suffix = f" {unit}" if unit else ""
    low, high = number(figure["min"]), number(figure["max"])
    return f"{number(figure['median'])} ({low}-{high}){suffix}"


def started(runs: list[Result]) -> str:
    """The 1-minute load average and the Python speed at the runs' starts, as ranges."""
    loads = [run["load_average"][0] for run in runs if "load_average" in run]
    steps = [run["python_step_ns"] for run in runs if "python_step_ns" in run]
    load = f"{min(loads):.2f}-{max(loads):.2f}" if loads else "n/a"
    return load + (f"; {min(steps):.0f}-{max(steps):.0f} ns" if steps else "")


def row(scenario: str, hub: str, reference: str, runs: list[Result]) -> str:
    """One README row: the scenario, the hub's figures, the reference measured beside them
    in the same run (empty when there is none), how many runs, and the machine's load
    and speed at their starts."""
    return f"| {scenario} | {hub} | {reference} | {len(runs)} | {started(runs)} |"


def rest_rows(result: Result) -> Iterator[str]:
    for limit, figures in result["limits"].items():
        yield row(
            f"REST `/candles/BTCUSDT/1m?limit={limit}` ({figures['body_bytes']:,} bytes), "
            f"{result['connections']} connections, bearer token and CORS on",
            f"{fig(figures['hub_rps'], 'rps')}; {fig(figures['hub_cpu_us_per_request'])} "
            "CPU-us per request",
            f"prebuilt bytes {fig(figures['prebuilt_rps'], 'rps')}; "
            f"{fig(figures['prebuilt_cpu_us_per_request'])} CPU-us; "
            f"**hub/prebuilt {fig(figures['ratio_rps'])}**",
            [run["hub"] for run in figures["runs"]],
        )


def ingest_rows(result: Result) -> Iterator[str]:
    yield row(
        f"ingest, {result['topics']:,} topics, {result['messages']:,} kline messages, no clients",
        f"**{fig(result['cpu_us_per_message'], 'CPU-us per message')}**; "
        f"{fig(result['messages_per_s'], 'messages/s')} on one core",
        f"full market {result['full_market_messages_per_s']} messages/s = "
        f"{fig(result['full_market_cpu_share'])} of a core",
        result["runs"],
    )


def cold_start_rows(result: Result) -> Iterator[str]:
    yield row(
        f"cold start, {result['topics']} topics x {result['candles_per_topic']} candles, "
        f"{result['rest_latency_s'] * 1000:.0f} ms REST latency",
        f"**ready in {fig(result['ready_s'], 's')}**; "
        f"hub {fig(result['hub_cpu_s_to_ready'], 'CPU-s')} until ready",
        "",
        result["runs"],
    )


def subscribe_rows(result: Result) -> Iterator[str]:
    yield row(
        f"subscribes, {result['clients']:,} clients x {result['subscriptions_per_client']} "
        f"at once, {result['snapshot_candles']}-candle snapshots, {result['topics']} topics",
        f"**{fig(result['subscribes_per_s'], 'subscribes/s')}**; "
        f"{fig(result['hub_cpu_us_per_subscribe'])} CPU-us each",
        "",
        result["runs"],
    )


def fanout_rows(result: Result) -> Iterator[str]:
    for rate in result["rates"]:
        hz = 1 / rate["push_interval_s"]
        health, held = rate.get("hub_health_max_ms"), rate.get("hub_health_held_max_ms")
        if health and held:
            health_note = (
                f"; `/health` at most {fig(held, 'ms')} while held, {fig(health, 'ms')} overall"
            )
        else:
            health_note = f"; `/health` at most {fig(health, 'ms')}" if health else ""
        yield row(
            f"fan-out, {result['clients']:,} clients x {result['subscriptions_per_client']} "
            f"of {result['topics']} topics at {hz:g} Hz",
            f"p99 {fig(rate['hub_p99_ms'], 'ms')}; "
            f"{fig(rate['hub_updates_per_s'], 'updates/s')}; "
            f"{fig(rate['hub_bytes_per_connection'], 'bytes')} per connection; "
            f"{fig(rate['hub_cpu_share'])} of a core" + health_note,
            f"bare broadcast p99 {fig(rate['ceiling_p99_ms'], 'ms')}; "
            f"{fig(rate['ceiling_bytes_per_connection'], 'bytes')} per connection; "
            f"**hub/broadcast throughput {fig(rate['ratio_updates'])}, "
            f"p99 {fig(rate['ratio_p99'])}**",
            rate["runs"],
        )


# The README's rows, in order: result file (without .json) and how it renders.
HEADLINES: dict[str, Callable[[Result], Iterator[str]]] = {
    "rest": rest_rows,
    "fanout": fanout_rows,
    "fanout10k": fanout_rows,
    "subscribe_limit100": subscribe_rows,
    "ingest": ingest_rows,
    "cold_start_60topics_50ms": cold_start_rows,
}


def readme_table(folder: Path = PUBLISHED) -> str:
    """The README's table from the headline results in ``folder``."""
    rows = [
        "| scenario | hub | reference in the same run | runs | load; ns per loop step at start |",
        "| --- | --- | --- | --- | --- |",
    ]
    machines = set()
    for name, render in HEADLINES.items():
        path = folder / f"{name}.json"
        if path.exists():
            result = json.loads(path.read_text())
            machines.add(result.get("machine", "?"))
            rows += render(result)
    where = "; ".join(sorted(machines))
    return "\n".join([*rows, "", f"Medians (min-max) of the runs; measured on: {where}."])


def readme_block(text: str) -> str:
    """What stands between the markers in ``text``."""
    start, end = text.index(START) + len(START), text.index(END)
    return text[start:end].strip("\n")


def publish() -> None:
    PUBLISHED.mkdir(exist_ok=True)
    for name in HEADLINES:
        source = RESULTS / f"{name}.json"
        if source.exists():
            shutil.copy(source, PUBLISHED / source.name)
    text = README.read_text()
    start, end = text.index(START) + len(START), text.index(END)
    README.write_text(text[:start] + "\n" + readme_table() + "\n" + text[end:])
    print(f"README's table rewritten from {PUBLISHED}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--publish", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.check:
        if readme_block(README.read_text()) != readme_table():
            sys.exit("README's benchmark table differs from bench/published/: run --publish")
        return
    if args.publish:
        publish()
        return
    files = sorted(RESULTS.glob("*.json"))
    sections = [table(path.stem, json.loads(path.read_text())) for path in files]
    summary = RESULTS / "summary.md"
    summary.write_text("# Benchmark results\n\n" + "\n".join(sections))
    print(f"{len(files)} result files -> {summary}")


if __name__ == "__main__":
    main()
