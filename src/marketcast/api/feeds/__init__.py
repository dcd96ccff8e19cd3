"""The hub's feeds as any contract serves them: candle topics without a gap, feed lookups
and their bounds, row shapes the contracts share."""
