"""The trade tape a follower keeps: id order, repeats dropped, bounded."""

from __future__ import annotations

import pytest

from marketcast.client import Trade, TradeTape
from marketcast.client.trades import parse_trade


def trade(trade_id: int) -> Trade:
    return Trade(trade_id, 100.0, 0.5, "buy", 1_700_000_000_000 + trade_id)


def test_trades_after_the_last_id_are_held_and_repeats_are_not() -> None:
    tape = TradeTape()
    assert tape.append(trade(5))
    assert tape.append(trade(6))
    assert not tape.append(trade(6))
    assert not tape.append(trade(4))
    assert [t.id for t in tape.trades()] == [5, 6]
    assert tape.last_id == 6


def test_the_tape_keeps_its_newest_trades_and_clear_forgets_the_resume_point() -> None:
    tape = TradeTape(keep=2)
    for trade_id in (1, 2, 3):
        tape.append(trade(trade_id))
    assert [t.id for t in tape.trades()] == [2, 3]
    assert tape.clear() == 2
    assert tape.last_id is None
    assert len(tape) == 0
    with pytest.raises(ValueError, match="keep"):
        TradeTape(keep=0)


def test_a_native_row_is_parsed() -> None:
    row = {
        "id": 3524600718,
        "price": 60123.42,
        "amount": 0.05763,
        "side": "sell",
        "timestamp": 1714572003611,
        "price_formatted": "60123.42",
    }
    assert parse_trade(row) == Trade(3524600718, 60123.42, 0.05763, "sell", 1714572003611)
    with pytest.raises(ValueError, match="side"):
        parse_trade(row | {"side": "short"})
