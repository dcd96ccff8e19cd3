"""Candle storage: one interface, an embedded memory backend (and Redis, later)."""

from marketcast.store.interface import CandleStore, TopicInfo
from marketcast.store.memory import MemoryStore

__all__ = ["CandleStore", "MemoryStore", "TopicInfo"]
