"""Candles as a DataFrame, with pandas optional."""

from __future__ import annotations

import sys

import pytest

from marketcast.client import Candle, to_dataframe

CANDLES = [
    Candle(1714571940, 1.0, 2.0, 0.5, 1.5, 10.0, closed=True),
    Candle(1714572000, 1.5, 1.6, 1.4, 1.45, 2.0, closed=False),
]


def test_without_pandas_the_error_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if it were not installed
    with pytest.raises(ImportError, match="pip install pandas"):
        to_dataframe(CANDLES)


def test_a_frame_has_a_row_per_candle_indexed_by_utc_open_time() -> None:
    frame = to_dataframe(CANDLES)
    assert list(frame.columns) == ["open", "high", "low", "close", "volume", "closed"]
    assert frame.index.name == "time"
    assert str(frame.index[0]) == "2024-05-01 13:59:00+00:00"
    assert frame["close"].tolist() == [1.5, 1.45]
    assert frame["closed"].tolist() == [True, False]
