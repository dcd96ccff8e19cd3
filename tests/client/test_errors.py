"""Refusals as exceptions, and the one place that decides retry or give up."""

from __future__ import annotations

from marketcast.client import AuthenticationError, HubError
from marketcast.client.errors import fatal_close, limit_maximum, retryable


def test_a_rest_body_keeps_its_code_detail_and_details() -> None:
    body = {
        "detail": "unknown symbol 'BTCXUSDT'; did you mean BTCUSDT?",
        "status_code": 404,
        "code": "unknown_symbol",
        "suggestions": ["BTCUSDT"],
    }
    error = HubError.from_body(body, 404)
    assert (error.code, error.status) == ("unknown_symbol", 404)
    assert error.details == {"suggestions": ["BTCUSDT"]}
    assert "did you mean BTCUSDT" in str(error)


def test_a_socket_error_message_becomes_the_same_error() -> None:
    error = HubError.from_body({"type": "error", "code": "invalid_interval", "message": "bad"})
    assert (error.code, error.message, error.status) == ("invalid_interval", "bad", None)
    assert "on /ws" in str(error)


def test_a_401_without_a_code_is_an_authentication_error() -> None:
    error = HubError.from_body({"detail": "missing or invalid token", "status_code": 401}, 401)
    assert isinstance(error, AuthenticationError)
    assert error.code == "unauthorized"


def test_only_what_waiting_can_fix_is_retried() -> None:
    assert all(retryable(code) for code in ("not_ready", "store_unavailable", "rate_limited"))
    assert not any(retryable(code) for code in ("unknown_symbol", "invalid_limit", "malformed"))
    assert not fatal_close(4008)
    assert not fatal_close(1012)
    assert not fatal_close(None)
    assert fatal_close(1008)


def test_the_bound_of_an_invalid_limit_is_read_from_its_message() -> None:
    error = HubError("invalid_limit", "invalid limit 1000; limit must be an integer in 1..300")
    assert limit_maximum(error) == 300
    assert limit_maximum(HubError("invalid_limit", "limit must be small")) is None
    assert limit_maximum(HubError("unknown_symbol", "in 1..300")) is None
