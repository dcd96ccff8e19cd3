"""Candles: one sync worker per topic (bootstrap, gap-fill, finalize), the bus, snapshot gates."""
