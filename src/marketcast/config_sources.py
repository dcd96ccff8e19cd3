"""Where settings come from, and what is wrong with them, said in one line.

Precedence, highest first: command-line flags, environment (``MARKETCAST_*`` and the seed
systems' names), an optional TOML file (``--config PATH`` or ``MARKETCAST_CONFIG``; keys
are the settings' names, e.g. ``buffer_size = 1000``, ``symbols = ["BTCUSDT"]``), the
defaults. :func:`load` builds :class:`~marketcast.config.Settings` from them;
:func:`sources` says where each effective value came from; a bad value, an unknown key
in the file or an unreadable file is a :class:`ConfigError` with one line per problem
naming the setting, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, TomlConfigSettingsSource

from marketcast.config import Settings

ENV_PREFIX: Final = "MARKETCAST_"
CONFIG_ENV: Final = "MARKETCAST_CONFIG"
SECRET: Final = "***"


class ConfigError(Exception):
    """Settings that cannot be used; ``lines`` says why, one problem a line."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__("\n".join(lines))


def names() -> tuple[str, ...]:
    """Every setting's name (the file's keys; flags are ``--`` + the name with dashes)."""
    return tuple(Settings.model_fields)


def env_names(name: str) -> tuple[str, ...]:
    """The environment variables that set ``name`` (canonical first, then the aliases)."""
    alias = Settings.model_fields[name].validation_alias
    choices = getattr(alias, "choices", ()) or ()
    found = [c for c in choices if isinstance(c, str) and (c.isupper() or c.startswith("MARK"))]
    return tuple(dict.fromkeys(found)) or (ENV_PREFIX + name.upper(),)


def config_file(flag: str | None, environ: Mapping[str, str]) -> Path | None:
    given = flag or environ.get(CONFIG_ENV)
    return Path(given) if given else None


def read_file(path: Path) -> dict[str, Any]:
    """The file's settings; unreadable, malformed or unknown keys are a ConfigError."""
    try:
        content = tomllib.loads(path.read_text())
    except OSError as error:
        raise ConfigError([f"config file {path}: cannot read it ({error.strerror})"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"config file {path}: not valid TOML ({error})"]) from None
    known = names()
    unknown = [key for key in content if key not in known]
    if unknown:
        raise ConfigError(
            [f"config file {path}: unknown setting {k!r}{_did_you_mean(k, known)}" for k in unknown]
        )
    return content


def load(flags: Mapping[str, Any], file: Path | None = None) -> Settings:
    """Settings from ``flags`` over the environment over ``file`` over the defaults."""
    file_values = read_file(file) if file is not None else {}
    settings_type = _with_file(file) if file is not None else Settings
    try:
        return settings_type(**flags)
    except ValidationError as error:
        raise ConfigError(_problems(error, flags, file_values, file)) from None


def _with_file(path: Path) -> type[Settings]:
    class FileSettings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            toml = TomlConfigSettingsSource(settings_cls, toml_file=path)
            return init_settings, env_settings, toml, file_secret_settings

    return FileSettings


def _problems(
    error: ValidationError,
    flags: Mapping[str, Any],
    file_values: Mapping[str, Any],
    file: Path | None,
) -> list[str]:
    lines = []
    for problem in error.errors():
        where = str(problem["loc"][0]) if problem["loc"] else ""
        value = problem.get("input")
        message = str(problem["msg"]).removeprefix("Value error, ")
        if where in flags:
            origin = f"--{where.replace('_', '-')}"
        elif where in file_values:
            origin = f"{where} in {file}"
        elif where in os.environ:
            origin = where
        elif not where:  # a check across settings (role and store, market and intervals)
            lines.append(f"invalid settings: {message}")
            continue
        else:
            origin = where
        lines.append(f"invalid setting {origin}={_show(where, value)}: {message}")
    return lines


def _show(name: str, value: Any) -> str:
    if name.endswith("auth_token") or name.lower().endswith("token"):
        return repr(SECRET)
    return repr(value)


def _did_you_mean(given: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(given, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_environment(environ: Mapping[str, str]) -> list[str]:
    """Warnings for ``MARKETCAST_*`` variables that set nothing (a typo is silent else)."""
    known = {CONFIG_ENV} | {env for name in names() for env in env_names(name)}
    return [
        f"unknown environment variable {key}{_did_you_mean(key, known)}: it sets nothing"
        for key in sorted(environ)
        if key.startswith(ENV_PREFIX) and key not in known
    ]


def sources(
    settings: Settings,
    flags: Mapping[str, Any],
    file: Path | None,
    environ: Mapping[str, str],
) -> list[tuple[str, str, str]]:
    """``(name, value shown, source)`` of every setting, secrets masked."""
    file_values = read_file(file) if file is not None else {}
    rows = []
    for name in names():
        if name in flags:
            source = "flag"
        elif env := next((e for e in env_names(name) if e in environ), None):
            source = f"env {env}"
        elif name in file_values:
            source = f"file {file}"
        else:
            source = "default"
        rows.append((name, _shown(name, getattr(settings, name)), source))
    return rows


def _shown(name: str, value: Any) -> str:
    if name == "auth_token":
        return SECRET if value else "(none)"
    if name == "redis_url":
        return redact_url(str(value))
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def redact_url(url: str) -> str:
    """``url`` with its password masked."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", f":{SECRET}@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
