"""Events a stream yields besides the data itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reset:
    """What was held cannot be continued: drop it, and load what follows as new.

    The hub sends this when the client was away longer than it keeps history (candles older
    than its buffer, trades that left its tape) or when trades were lost for good. The
    stream has already cleared its own copy when this is yielded; the data yielded next is
    the hub's fresh snapshot.

    Attributes:
        channel: ``"candles"`` or ``"trades"``.
        dropped: how many items the stream's own copy held and dropped.
        last_held: the newest open time (s) or trade id held before, ``None`` if none:
            what a consumer needs to fetch the hole from REST, where the hub still has it.
    """

    channel: str
    dropped: int
    last_held: int | None
