"""How candles, topics and gaps are laid out in Redis: key names and byte encodings.

A stored candle is one sorted-set member of 61 bytes, scored by its open time::

    >q  open_time   8 bytes, signed big-endian (keeps members of equal prices distinct)
    B   closed      1 byte, 0 or 1                  <- read by the Lua version rule
    >i  trades      4 bytes, signed big-endian      <- read by the Lua version rule
    6d  open high low close volume quote_volume, IEEE 754 doubles, big-endian

Doubles are packed bit for bit, so every finite float comes back exactly. Negative zero
is stored as zero: the two compare equal, and this keeps "identical bytes" the same test
as ``Candle.__eq__``, which is what the Lua script uses to recognise a re-sent candle.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Final

from marketcast.domain.candles import Candle, TimeRange
from marketcast.domain.intervals import Interval
from marketcast.domain.topics import Topic

_LAYOUT: Final = struct.Struct(">qBi6d")
CANDLE_BYTES: Final = _LAYOUT.size


def encode_candle(candle: Candle) -> bytes:
    return _LAYOUT.pack(
        candle.open_time,
        candle.closed,
        candle.trades,
        candle.open + 0.0,  # + 0.0 turns -0.0 into 0.0 and ints into floats
        candle.high + 0.0,
        candle.low + 0.0,
        candle.close + 0.0,
        candle.volume + 0.0,
        candle.quote_volume + 0.0,
    )


def decode_candle(raw: bytes) -> Candle:
    open_time, closed, trades, o, h, lo, c, v, q = _LAYOUT.unpack(raw)
    return Candle(open_time, o, h, lo, c, v, q, trades, bool(closed))


def topic_name(topic: Topic) -> str:
    """``BTCUSDT:1m``: the topic's id in the registry and in the change feed."""
    return f"{topic.symbol}:{topic.interval.code}"


def parse_topic_name(name: str | bytes) -> Topic:
    text = name.decode() if isinstance(name, bytes) else name
    symbol, _, code = text.rpartition(":")
    return Topic(symbol, Interval.parse(code))


def encode_gaps(gaps: list[TimeRange]) -> str:
    return json.dumps([[g.first, g.last] for g in gaps], separators=(",", ":"))


def decode_gaps(raw: bytes | str | None) -> list[TimeRange]:
    if not raw:
        return []
    return [TimeRange(int(first), int(last)) for first, last in json.loads(raw)]


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Key names under one ``prefix``; intervals stay case-sensitive (``1m`` is not ``1M``)."""

    prefix: str = ""

    def candles(self, topic: Topic) -> str:
        return f"{self.prefix}candles:{topic_name(topic)}"

    def meta(self, topic: Topic) -> str:
        return f"{self.prefix}meta:{topic_name(topic)}"

    @property
    def topics(self) -> str:
        return f"{self.prefix}topics"

    @property
    def changes(self) -> str:
        return f"{self.prefix}changes"


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change feed: a stored candle, or a topic rebuilt (``reset``)."""

    stream_id: str
    topic: Topic
    seq: int
    candle: Candle | None
    reset: bool


def decode_change(stream_id: bytes | str, fields: dict[bytes, bytes]) -> Change:
    raw_candle = fields.get(b"candle")
    return Change(
        stream_id=stream_id.decode() if isinstance(stream_id, bytes) else stream_id,
        topic=parse_topic_name(fields[b"topic"]),
        seq=int(fields[b"seq"]),
        candle=decode_candle(raw_candle) if raw_candle else None,
        reset=fields.get(b"reset") == b"1",
    )
