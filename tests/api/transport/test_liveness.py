"""A client's acknowledgements: when to ping, what a pong acknowledges, when it lags."""

from __future__ import annotations

from marketcast.api.transport.liveness import AckPolicy, Acks

POLICY = AckPolicy(max_age_s=10.0, max_unacked_bytes=1000, interval_s=5.0, probe_bytes=100)


def test_an_idle_client_is_pinged_once_per_interval_and_a_pong_acknowledges_it() -> None:
    acks = Acks(POLICY, last_ack_at=0.0)
    assert acks.next_ping(4.9) is None
    payload = acks.next_ping(5.0)
    assert payload is not None
    assert acks.next_ping(6.0) is None  # one ping in flight at a time
    assert acks.ponged(payload, 6.0)
    assert acks.next_ping(10.9) is None
    assert acks.next_ping(11.0) is not None


def test_a_pong_acknowledges_what_was_sent_before_its_ping_only() -> None:
    acks = Acks(POLICY, last_ack_at=0.0)
    acks.wrote(150)
    payload = acks.next_ping(1.0)  # probe_bytes reached
    assert payload is not None
    acks.wrote(40)
    assert acks.ponged(payload, 1.2)
    assert (acks.sent, acks.acked, acks.unacked) == (190, 150, 40)


def test_a_stale_or_unsolicited_pong_changes_nothing() -> None:
    acks = Acks(POLICY, last_ack_at=0.0)
    acks.wrote(500)
    payload = acks.next_ping(1.0)
    assert payload is not None
    assert not acks.ponged(b"someone else's", 1.5)
    assert acks.unacked == 500
    assert acks.ponged(payload, 2.0)
    assert not acks.ponged(payload, 2.1)  # answered already


def test_lag_by_age_of_the_unanswered_ping() -> None:
    acks = Acks(POLICY, last_ack_at=0.0)
    acks.next_ping(5.0)
    assert acks.lag(15.0) is None
    reason = acks.lag(15.1)
    assert reason is not None
    assert "no pong" in reason


def test_lag_by_bytes_sent_since_the_last_acknowledgement() -> None:
    acks = Acks(POLICY, last_ack_at=0.0)
    acks.wrote(1000)
    assert acks.lag(0.1) is None
    acks.wrote(1)
    reason = acks.lag(0.1)
    assert reason is not None
    assert "1001 bytes unacknowledged" in reason
