"""Symbol lookup rules: normalising what clients type and suggesting what they meant."""

from __future__ import annotations

import difflib
from collections.abc import Collection

_SEPARATORS = str.maketrans("", "", "/-_: ")


def normalize_symbol(given: str) -> str:
    """``btc/usdt`` → ``BTCUSDT``: the exchange id clients expect to see echoed."""
    return given.translate(_SEPARATORS).upper()


def unified_symbol(given: str) -> tuple[str, str | None]:
    """ccxt's unified form: ``BTC/USDT`` names spot, ``BTC/USDT:USDT`` the USD-M (linear,
    USDT-settled) perpetual. Returns the pair without its settle currency and the market
    it names (``None`` for an exchange id such as ``BTCUSDT``, which names none).

    Raises:
        ValueError: a settle currency other than the quote (coin-margined contracts are
            not served).
    """
    if "/" not in given:
        return given, None
    pair, colon, settle = given.partition(":")
    if not colon:
        return pair, "spot"
    quote = pair.rpartition("/")[2]
    if settle.strip().upper() != quote.strip().upper():
        raise ValueError(
            f"{given!r} settles in {settle}: only USD-M contracts settled in their quote "
            f"currency are served (e.g. BTC/USDT:USDT)"
        )
    return pair, "usdm"


def suggest_symbols(given: str, listed: Collection[str], limit: int = 5) -> list[str]:
    """Listed symbols a client probably meant: same prefix first, then close spellings."""
    wanted = normalize_symbol(given)
    if not wanted:
        return []
    prefixed = sorted(s for s in listed if s.startswith(wanted))
    close = difflib.get_close_matches(wanted, list(listed), n=limit, cutoff=0.6)
    ordered = list(dict.fromkeys([*prefixed, *close]))
    return ordered[:limit]
