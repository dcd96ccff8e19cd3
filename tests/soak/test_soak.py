"""The soak, short (``make soak`` runs the long one): no loss of any kind, no traceback."""

from __future__ import annotations

import pytest

from soak.soak import soak, table

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.timeout(900)]


async def test_a_short_soak_loses_nothing() -> None:
    tallies = await soak(minutes=2.0, clients=200)
    print("\n" + table(tallies))  # the numbers, for whoever reads the run
    assert all(tally.clients for tally in tallies), "a phase had no clients"
    assert all(tally.messages for tally in tallies), "a phase delivered nothing"
    assert sum(tally.kills for tally in tallies) == 3
    assert all(tally.liquidations for tally in tallies), "a phase delivered no liquidation"
    assert sum(tally.missed_faults for tally in tallies) == 0, table(tallies)
    assert sum(tally.lost_liquidations for tally in tallies) == 0, table(tallies)
    assert sum(tally.tracebacks for tally in tallies) == 0, table(tallies)
    assert sum(tally.lost for tally in tallies) == 0, table(tallies)
