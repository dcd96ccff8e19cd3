"""``/openapi.json`` as this node completes it: error answers, bounds from its settings."""

from __future__ import annotations

from typing import Any

from marketcast.api.app import create_app
from marketcast.config import Settings


def document(**settings: Any) -> dict[str, Any]:
    return create_app(Settings(**settings)).openapi()


def limit_of(doc: dict[str, Any], path: str) -> dict[str, Any]:
    parameters = doc["paths"][path]["get"]["parameters"]
    schema: dict[str, Any] = next(p["schema"] for p in parameters if p["name"] == "limit")
    return schema


def test_limits_carry_this_nodes_maxima() -> None:
    doc = document(buffer_size=500, max_orderbook_limit=40, trade_history=300)
    assert limit_of(doc, "/candles/{symbol}/{interval}") == {
        "type": "integer",
        "minimum": 1,
        "maximum": 500,
    }
    assert limit_of(doc, "/orderbook/{symbol}")["maximum"] == 40
    assert limit_of(doc, "/trades/{symbol}")["maximum"] == 300
    assert limit_of(doc, "/api/v1/candles/{symbol}")["maximum"] == 500
    # Built per app: another node's settings do not leak into this one's document.
    assert limit_of(document(), "/candles/{symbol}/{interval}")["maximum"] == 1000


def test_every_error_answer_is_documented_with_its_body_and_422_never() -> None:
    doc = document(auth_token="secret")
    error = {"$ref": "#/components/schemas/Error"}
    for path, item in doc["paths"].items():
        for operation in item.values():
            responses = operation["responses"]
            assert "422" not in responses, path
            for status, response in responses.items():
                if status.startswith("4") or (status.startswith("5") and path != "/ready"):
                    assert response["content"]["application/json"]["schema"] == error, path
    candles = doc["paths"]["/candles/{symbol}/{interval}"]["get"]["responses"]
    assert set(candles) == {"200", "400", "401", "404", "429", "503", "504"}
    assert set(doc["paths"]["/health"]["get"]["responses"]) == {"200"}
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_the_token_answer_follows_the_settings() -> None:
    assert "401" not in document()["paths"]["/symbols"]["get"]["responses"]
    assert "401" in document(auth_token="t")["paths"]["/metrics"]["get"]["responses"]
    public = document(auth_token="t", metrics_public=True)
    assert "401" not in public["paths"]["/metrics"]["get"]["responses"]
    assert "401" in public["paths"]["/symbols"]["get"]["responses"]
