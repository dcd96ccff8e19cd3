"""The seeded ground truth: the trade tape and everything derived from it (klines, books,
liquidations)."""
