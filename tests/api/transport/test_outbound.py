"""The outbound buffer: forming updates coalesce, closed ones are never dropped."""

from __future__ import annotations

from marketcast.api.transport.outbound import OutboundBuffer


def test_forming_updates_coalesce_in_place_and_keep_order() -> None:
    buffer = OutboundBuffer(limit=10)
    assert buffer.push("T1 v1", key="T1")
    assert buffer.push("T1 closed")  # closed: no key, never coalesced
    assert buffer.push("T2 v1", key="T2")
    assert buffer.push("T2 v2", key="T2")
    assert buffer.pop_batch(10) == ["T1 v1", "T1 closed", "T2 v2"]
    assert buffer.coalesced == 1


def test_key_is_forgotten_once_sent() -> None:
    buffer = OutboundBuffer(limit=10)
    buffer.push("a", key="k")
    assert buffer.pop_batch(1) == ["a"]
    buffer.push("b", key="k")
    assert buffer.pop_batch(5) == ["b"]


def test_hard_limit_rejects_but_coalescing_still_fits() -> None:
    buffer = OutboundBuffer(limit=2)
    assert buffer.push("closed 1")
    assert buffer.push("forming", key="f")
    assert buffer.push("forming v2", key="f")  # replaces, does not grow
    assert not buffer.push("closed 2")
    assert len(buffer) == 2
