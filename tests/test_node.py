"""A node's shutdown: exchange input stops first, then everything that processed it."""

from __future__ import annotations

import logging

import pytest

from marketcast.exchanges.sim import SimConfig, SimExchange
from marketcast.node import Node
from support.servers import hub_settings

START_MS = 1_780_272_000_000


async def test_shutdown_closes_every_exchange_connection_before_anything_else(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Market data arriving during shutdown kept the event loop busy enough to push
    # loaded shutdowns past their deadline; nothing may stop before the input does.
    async with SimExchange(SimConfig(symbols=("BTCUSDT",), start_ms=START_MS, speed=20)) as sim:
        settings = hub_settings(sim, symbols=("BTCUSDT",))
        with caplog.at_level(logging.DEBUG, logger="marketcast.node"):
            async with Node(settings, simulated=True) as node:
                streams = node.streams
                # Per market candles, book diffs and trades; and the node's liquidations.
                assert len(streams) == 7
    steps = [
        record.getMessage().removeprefix("shutdown: ").split(" took")[0]
        for record in caplog.records
        if record.name == "marketcast.node" and record.getMessage().startswith("shutdown:")
    ]
    assert steps[0] == "exchange connections"
    assert steps.index("liquidations") < steps.index("liquidation store")
    for stream in streams:
        assert stream is not None
        with pytest.raises(RuntimeError, match="closed"):
            await stream.add_streams(["btcusdt@aggTrade"])
