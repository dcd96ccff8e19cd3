"""``marketcast serve | demo | sim | config | tail``: flags mirror the settings (see README).

Settings come from flags, the environment, an optional TOML file and the defaults
(:mod:`marketcast.config_sources`). A value that cannot be used ends the command with
one line per problem on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Final

import uvloop

from marketcast import launch, runtime
from marketcast.config import LOG_LEVELS, Settings
from marketcast.config_sources import (
    ConfigError,
    config_file,
    load,
    sources,
    unknown_environment,
)
from marketcast.logs import configure

log = logging.getLogger("marketcast")

EXIT_CONFIG: Final = 2

# Every flag takes text: the settings check it, so a bad value is reported the same way
# whether it came from a flag, the environment or the file.
_SERVE_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("--symbols", "symbols", "comma-separated symbols, e.g. BTCUSDT,ETHUSDT (default market)"),
    ("--usdm-symbols", "usdm_symbols", "USD-M perpetuals followed from start, e.g. BTCUSDT"),
    ("--intervals", "intervals", "comma-separated intervals, e.g. 1m,5m,1h"),
    ("--buffer-size", "buffer_size", "candles kept per symbol and interval"),
    ("--store", "store", "memory (default) or redis"),
    ("--redis-url", "redis_url", "Redis URL for --store redis"),
    ("--redis-prefix", "redis_prefix", "key prefix, e.g. 'mc:' (shared by all nodes)"),
    ("--role", "role", "all (default), ingest or api; scale-out needs --store redis"),
    ("--node-id", "node_id", "name of this node in the leader lease"),
    ("--rest-base", "rest_base", "exchange REST origin"),
    ("--ws-base", "ws_base", "exchange WebSocket origin"),
    ("--market", "market", "market of requests that name none: spot (default) or usdm"),
    ("--futures-rest-base", "futures_rest_base", "USD-M futures REST origin"),
    ("--futures-ws-base", "futures_ws_base", "USD-M futures WebSocket origin"),
    ("--host", "host", "bind address (default 127.0.0.1)"),
    ("--port", "port", "bind port (default 8000)"),
    ("--log-level", "log_level", "DEBUG, INFO, WARNING, ERROR"),
    ("--log-format", "log_format", "text (default) or json: one JSON object a line"),
    ("--auth-token", "auth_token", "require this bearer token"),
    ("--metrics-public", "metrics_public", "true: /metrics answers without the token"),
    ("--cors-origins", "cors_origins", "comma-separated allowed origins (default *)"),
    ("--feeds", "feeds", "books,trades,liquidations (default all; empty: candles only)"),
)


def _add_serve_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="a TOML file of settings")
    for flag, dest, help_text in _SERVE_FLAGS:
        parser.add_argument(flag, dest=dest, default=None, help=help_text)


def _add_sim_flags(parser: argparse.ArgumentParser, port: int) -> None:
    parser.add_argument("--sim-port", type=int, default=port, help="simulator port")
    parser.add_argument("--seed", type=int, default=7, help="tape seed (deterministic)")
    parser.add_argument("--speed", type=float, default=1.0, help="virtual clock speed factor")
    parser.add_argument("--faults", default="", help="fault schedule, see README")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="marketcast", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    _add_serve_flags(commands.add_parser("serve", help="serve live exchange data"))
    demo = commands.add_parser("demo", help="simulated exchange + hub, no network needed")
    _add_serve_flags(demo)
    _add_sim_flags(demo, 0)
    sim = commands.add_parser("sim", help="run the simulated Binance exchange alone")
    _add_sim_flags(sim, 9100)
    sim.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
    config = commands.add_parser("config", help="print the effective settings and their sources")
    _add_serve_flags(config)
    _add_tail_arguments(commands.add_parser("tail", help="print a topic's live candles"))
    return parser


def _add_tail_arguments(tail: argparse.ArgumentParser) -> None:
    tail.add_argument("symbol", help="e.g. BTCUSDT, or ccxt's BTC/USDT:USDT")
    tail.add_argument("interval", help="e.g. 1m")
    tail.add_argument("--url", default="http://127.0.0.1:8000", help="the hub's HTTP base")
    tail.add_argument("--market", default=None, help="spot or usdm (default: the hub's)")
    tail.add_argument("--token", default=None, help="default: MARKETCAST_AUTH_TOKEN")
    tail.add_argument("--history", type=int, default=20, help="candles shown first (20)")
    tail.add_argument("--count", type=int, default=None, help="exit after this many rows")


def _tail(args: argparse.Namespace) -> int:
    """Run ``marketcast tail``: the client only, no settings; exit status 1 on a refusal."""
    from marketcast.client.errors import ClientError
    from marketcast.client.tail import report_to_stderr, tail

    report_to_stderr()
    token = args.token or os.environ.get("MARKETCAST_AUTH_TOKEN") or None
    following = tail(
        args.url,
        args.symbol,
        args.interval,
        market=args.market,
        token=token,
        history=args.history,
        count=args.count,
    )
    try:
        asyncio.run(following)
    except ClientError as refused:
        sys.stderr.write(f"marketcast tail: {refused}\n")
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    return {dest: v for _, dest, _ in _SERVE_FLAGS if (v := getattr(args, dest, None)) is not None}


def _sim_options(args: argparse.Namespace) -> launch.SimOptions:
    return launch.SimOptions(args.sim_port, args.seed, args.speed, args.faults)


def _print_config(settings: Settings, args: argparse.Namespace) -> None:
    file = config_file(getattr(args, "config", None), os.environ)
    rows = sources(settings, _flags(args), file, os.environ)
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        sys.stdout.write(f"{name.ljust(width)}  {value}  ({source})\n")


def _warnings(settings: Settings) -> list[str]:
    found = unknown_environment(os.environ)
    if not settings.symbols:
        found.append(
            "no symbols configured (MARKETCAST_SYMBOLS is empty): no candle topic starts; "
            "clients can still ask for symbols on demand"
        )
    return found


def _runner(args: argparse.Namespace) -> Callable[[], Coroutine[Any, Any, None]] | None:
    """What the command runs, after its settings were checked and logging set up."""
    if args.command == "sim":
        exit_with_parent = args.exit_with_parent
        return lambda: launch.simulator(_sim_options(args), exit_with_parent=exit_with_parent)
    settings = load(_flags(args), config_file(args.config, os.environ))
    if args.command == "config":
        for warning in _warnings(settings):
            sys.stderr.write(f"marketcast: warning: {warning}\n")
        _print_config(settings, args)
        return None
    configure(settings.log_level, secrets=(settings.auth_token or "",), as_json=settings.json_logs)
    for warning in _warnings(settings):
        log.warning("%s", warning)
    if args.command == "demo":
        return lambda: launch.demo(settings, _sim_options(args))
    return lambda: launch.serve(settings, simulated=False)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "tail":
        raise SystemExit(_tail(args))
    if args.command == "sim":  # the simulator has no settings of its own but its logs'
        level = os.environ.get("MARKETCAST_LOG_LEVEL", "INFO").upper()
        as_json = os.environ.get("MARKETCAST_LOG_FORMAT", "text").strip().lower() == "json"
        configure(level if level in LOG_LEVELS else "INFO", as_json=as_json)
    try:
        run = _runner(args)
    except ConfigError as error:
        for line in error.lines:
            sys.stderr.write(f"marketcast: {line}\n")
        raise SystemExit(EXIT_CONFIG) from None
    if run is None:
        return
    # uvloop: the event loop and socket writes in C. With one send deadline per batch it
    # took a quarter off the CPU per delivered update in bench/fanout.py, and REST
    # /candles went from 1440 to 3519 requests/s in bench/rest.py.
    runtime.tune_collector()
    with (
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        runner.run(run())


if __name__ == "__main__":
    main()
