"""Order books: one local book per followed symbol, kept in sync from snapshot + diffs."""
