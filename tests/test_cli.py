"""The command line: bad settings end in one line and status 2; warnings; the config file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def marketcast(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MARKETCAST_")}
    return subprocess.run(
        [sys.executable, "-m", "marketcast.cli", *args],
        env=clean | (env or {}),
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "flags", "named"),
    [
        ({"MARKETCAST_PORT": "abc"}, (), "MARKETCAST_PORT='abc'"),
        ({"MARKETCAST_INTERVALS": "2m"}, (), "MARKETCAST_INTERVALS='2m'"),
        ({"MARKETCAST_STORE": "mongo"}, (), "MARKETCAST_STORE='mongo'"),
        ({"MARKETCAST_LOG_LEVEL": "LOUD"}, (), "MARKETCAST_LOG_LEVEL='LOUD'"),
        ({}, ("--intervals", "2m"), "--intervals='2m'"),
        ({}, ("--port", "abc"), "--port='abc'"),
        ({"MARKETCAST_ROLE": "api"}, (), "needs --store redis"),
    ],
)
def test_a_bad_setting_is_one_line_and_status_2(
    env: dict[str, str], flags: tuple[str, ...], named: str
) -> None:
    done = marketcast("serve", *flags, env=env)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("marketcast: invalid setting")
    assert named in line


def test_a_typo_in_a_variable_name_is_named_with_its_likely_meaning() -> None:
    done = marketcast("config", env={"MARKETCAST_SYMBOL": "XYZ"})
    assert done.returncode == 0
    assert "MARKETCAST_SYMBOL (did you mean 'MARKETCAST_SYMBOLS'?)" in done.stderr


def test_an_empty_symbol_list_is_said() -> None:
    done = marketcast("config", env={"MARKETCAST_SYMBOLS": ""})
    assert "no symbols configured" in done.stderr


def test_config_file_under_environment_under_flags_with_sources_and_secrets_masked(
    tmp_path: Path,
) -> None:
    file = tmp_path / "marketcast.toml"
    file.write_text(
        'symbols = ["BTCUSDT"]\nbuffer_size = 500\nport = 9000\nauth_token = "S3cret"\n'
        'redis_url = "redis://:pw@redis.internal:6379/0"\n'
    )
    done = marketcast(
        "config", "--config", str(file), "--port", "9100", env={"MARKETCAST_BUFFER_SIZE": "700"}
    )
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()}
    assert rows["symbols"].split(maxsplit=2)[1:] == ["BTCUSDT", f"(file {file})"]
    assert rows["buffer_size"].split(maxsplit=2)[1:] == ["700", "(env MARKETCAST_BUFFER_SIZE)"]
    assert rows["port"].split(maxsplit=2)[1:] == ["9100", "(flag)"]
    assert rows["intervals"].endswith("(default)")
    assert "S3cret" not in done.stdout
    assert "pw@" not in done.stdout
    assert rows["auth_token"].split()[1] == "***"


def test_a_config_file_with_an_unknown_key_or_bad_toml_is_refused(tmp_path: Path) -> None:
    typo = tmp_path / "typo.toml"
    typo.write_text('symbol = ["BTCUSDT"]\n')
    broken = tmp_path / "broken.toml"
    broken.write_text("symbols = [\n")
    for path, said in (
        (typo, "unknown setting 'symbol' (did you mean 'symbols'?)"),
        (broken, "not valid TOML"),
    ):
        done = marketcast("serve", "--config", str(path))
        assert done.returncode == 2
        assert said in done.stderr
        assert "Traceback" not in done.stderr


LISTED = "btc/usdt, ETH-USDT,,BTCUSDT"  # ccxt and dashed spellings, a blank, a repeat


@pytest.mark.parametrize(
    ("flags", "env", "shown"),
    [
        (("--usdm-symbols", LISTED), {}, ["BTCUSDT,ETHUSDT", "(flag)"]),
        (
            (),
            {"MARKETCAST_USDM_SYMBOLS": LISTED},
            ["BTCUSDT,ETHUSDT", "(env MARKETCAST_USDM_SYMBOLS)"],
        ),
        (
            ("--usdm-symbols", "SOLUSDT,ETHUSDT"),
            {"MARKETCAST_USDM_SYMBOLS": "XRPUSDT"},
            ["SOLUSDT,ETHUSDT", "(flag)"],
        ),
    ],
    ids=["flag", "env", "flag-over-env"],
)
def test_usdm_symbols_are_a_comma_list_of_exchange_ids_from_flag_or_environment(
    flags: tuple[str, ...], env: dict[str, str], shown: list[str]
) -> None:
    done = marketcast("config", *flags, env=env)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()}
    assert rows["usdm_symbols"].split(maxsplit=2)[1:] == shown
    assert rows["symbols"].endswith("(default)")  # the default market's list is its own


def test_an_empty_usdm_symbol_list_is_accepted_as_none() -> None:
    # USD-M follows nothing from start then: its symbols all start on demand.
    done = marketcast("config", env={"MARKETCAST_USDM_SYMBOLS": ""})
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()}
    assert rows["usdm_symbols"].split() == [
        "usdm_symbols",
        "(env",
        "MARKETCAST_USDM_SYMBOLS)",
    ]
