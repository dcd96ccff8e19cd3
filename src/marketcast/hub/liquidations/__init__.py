"""Liquidations of USD-M perpetuals: stored, bucketed by timeframe, fanned out."""
