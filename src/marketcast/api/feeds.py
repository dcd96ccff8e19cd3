"""Attaching a client session to a candle topic without a gap or a duplicate.

Order matters (SPEC 3.2): subscribe on the bus first, then read the snapshot, then send
the snapshot followed by held updates at or after its last candle.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from marketcast.api.session import ClientSession
from marketcast.domain.candles import Candle
from marketcast.domain.topics import Topic
from marketcast.hub.bus import Encoder, Published
from marketcast.hub.gate import SnapshotGate
from marketcast.hub.hub import Hub


async def attach(
    session: ClientSession,
    hub: Hub,
    topic: Topic,
    *,
    encoder: Encoder,
    read_snapshot: Callable[[], Awaitable[list[Candle]]],
    send_snapshot: Callable[[list[Candle]], None],
) -> Callable[[], None]:
    """Subscribe ``session`` to ``topic``; return the function that detaches it.

    ``read_snapshot`` returns the candles to send first;
    ``send_snapshot`` queues them in the contract's shape (it may send nothing).
    """

    def forward(event: Published) -> None:
        # A forming candle may be superseded while queued; a closed one never is. The key
        # names this subscription (the gate), so an update after a re-subscribe cannot
        # overwrite a message queued before the new snapshot.
        candle = event.candle
        key = None if candle.closed else (gate, candle.open_time)
        session.send(event.encoded(encoder), key)

    gate: SnapshotGate[Published] = SnapshotGate(forward, lambda e: e.candle.open_time)
    detach = session.on_close(hub.bus.subscribe(topic, gate.offer))
    candles = await read_snapshot()
    send_snapshot(candles)
    gate.open(candles[-1].open_time if candles else None)
    return detach
