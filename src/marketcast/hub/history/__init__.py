"""Older history: candles beyond a topic's buffer, from the exchange in cached pages."""
