"""Symbol lookup rules: normalising what clients type and suggesting what they meant."""

from __future__ import annotations

import difflib
from collections.abc import Collection

_SEPARATORS = str.maketrans("", "", "/-_: ")


def normalize_symbol(given: str) -> str:
    """``btc/usdt`` → ``BTCUSDT``: the exchange id clients expect to see echoed."""
    return given.translate(_SEPARATORS).upper()


def suggest_symbols(given: str, listed: Collection[str], limit: int = 5) -> list[str]:
    """Listed symbols a client probably meant: same prefix first, then close spellings."""
    wanted = normalize_symbol(given)
    if not wanted:
        return []
    prefixed = sorted(s for s in listed if s.startswith(wanted))
    close = difflib.get_close_matches(wanted, list(listed), n=limit, cutoff=0.6)
    ordered = list(dict.fromkeys([*prefixed, *close]))
    return ordered[:limit]
