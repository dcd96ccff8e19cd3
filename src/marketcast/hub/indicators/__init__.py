"""Indicator and signal caches per candle topic, kept current from the bus."""
