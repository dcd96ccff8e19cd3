"""Admission of handshakes: connection caps and handshake rates, per node and per address."""

from __future__ import annotations

from marketcast.api.transport.admission import Admission, AdmissionLimits

LIMITS = AdmissionLimits(
    max_connections=5, max_connections_per_ip=3, handshakes_per_s=4, handshakes_per_ip_per_s=2
)


def test_an_address_past_its_connection_cap_is_refused_with_429_until_one_closes() -> None:
    admission = Admission(LIMITS, now=0.0)
    for second in range(3):
        assert admission.admit("10.0.0.1", now=float(second)) is None
    refusal = admission.admit("10.0.0.1", now=3.0)
    assert refusal is not None
    assert (refusal.status, refusal.retry_after_s) == (429, 5)
    admission.closed("10.0.0.1")
    assert admission.admit("10.0.0.1", now=4.0) is None
    assert admission.connections_from("10.0.0.1") == 3


def test_a_full_node_refuses_everyone_with_503() -> None:
    admission = Admission(LIMITS, now=0.0)
    for second, address in enumerate(["a", "b", "c", "d", "e"]):
        assert admission.admit(address, now=float(second)) is None
    refusal = admission.admit("f", now=10.0)
    assert refusal is not None
    assert refusal.status == 503
    assert admission.open == 5


def test_handshake_rates_per_address_and_per_node() -> None:
    admission = Admission(LIMITS, now=0.0)
    assert admission.admit("a", now=0.0) is None
    assert admission.admit("a", now=0.0) is None
    too_fast = admission.admit("a", now=0.0)  # the address's burst of 2 is spent
    assert too_fast is not None
    assert too_fast.status == 429
    assert admission.admit("b", now=0.0) is None
    # The node's 4 tokens went to a, a, the refused a and b.
    node_busy = admission.admit("c", now=0.0)
    assert node_busy is not None
    assert node_busy.status == 503
    assert admission.admit("c", now=1.0) is None  # refilled a second later


def test_refused_handshakes_are_not_counted_as_connections() -> None:
    admission = Admission(LIMITS, now=0.0)
    for _ in range(10):
        admission.admit("a", now=0.0)
    assert admission.connections_from("a") == 2
    assert admission.open == 2
