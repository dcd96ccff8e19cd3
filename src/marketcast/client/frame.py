"""Candles as a pandas DataFrame, for analysis; pandas stays optional."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from marketcast.client.series import Candle

COLUMNS = ("open", "high", "low", "close", "volume", "closed")


def to_dataframe(candles: Iterable[Candle]) -> Any:
    """A ``pandas.DataFrame`` of ``candles``: one row per candle, indexed by open time
    (a UTC ``DatetimeIndex`` named ``time``), columns :data:`COLUMNS`.

    pandas is imported only here, so the client works without it; the return type is
    ``Any`` for the same reason (no pandas stubs needed to type-check a caller).

    Raises:
        ImportError: pandas is not installed.
    """
    try:
        pandas = importlib.import_module("pandas")
    except ModuleNotFoundError as missing:
        raise ImportError(
            "to_dataframe needs pandas, which is not installed: "
            "pip install pandas (or marketcast[pandas])"
        ) from missing
    rows = list(candles)
    times = pandas.to_datetime([candle.time for candle in rows], unit="s", utc=True)
    columns = {name: [getattr(candle, name) for candle in rows] for name in COLUMNS}
    return pandas.DataFrame(columns, index=times.rename("time"))
