"""Deterministic randomness for the simulated tape.

Every random choice of the simulator is a pure function of the seed and of *where* it is
made (symbol, level, open time), never of the order in which things were asked for. That
is what makes any candle computable on its own, in any process, with the same result.

Python's built-in ``hash()`` is salted per process, so keys are hashed with BLAKE2b. A
node's many small draws come from :class:`random.Random` seeded by that hash: CPython
guarantees that ``Random(seed).random()`` yields the same sequence for the same integer
seed, and it is far cheaper per draw than hashing every draw.
"""

from __future__ import annotations

import hashlib
import random
from typing import Final

_MASK64: Final = (1 << 64) - 1
_TWO64: Final = float(1 << 64)


def key_hash(*parts: int | str) -> int:
    """A 64-bit hash of ``parts`` that is the same in every process and on every run."""
    text = "\x1f".join(str(part) for part in parts)
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def mix64(value: int) -> int:
    """SplitMix64 finalizer: a cheap avalanche of one integer, for hot per-day noise."""
    z = (value + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def unit(value: int) -> float:
    """Map a 64-bit hash to a float in ``[0, 1)``."""
    return (value & _MASK64) / _TWO64


def signed_unit(value: int) -> float:
    """Map a 64-bit hash to a float in ``[-1, 1)``."""
    return unit(value) * 2.0 - 1.0


def node_rng(symbol_key: int, level: int, open_time: int) -> random.Random:
    """A generator private to one tape node; only ``random()`` is drawn from it.

    ``(open_time, level)`` is packed without overlap (``level < 8``) and SplitMix64 is a
    bijection, so distinct nodes of a symbol never share a seed.
    """
    return random.Random(mix64(symbol_key ^ ((open_time << 3) | level)))
