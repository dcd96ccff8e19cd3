"""``GET /metrics``: the node's Prometheus metrics in the text exposition format.

The process's metrics (:mod:`marketcast.metrics`, recorded by every layer) followed by
this node's own (:mod:`marketcast.api.transport.metrics`); ``docs/metrics.md`` lists them.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from marketcast.api.state import app_state
from marketcast.metrics import REGISTRY

router = APIRouter()


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def get_metrics(request: Request) -> Response:
    """Prometheus metrics: upstream, hub, store and client transport (``docs/metrics.md``).

    Needs the token when one is configured, unless ``MARKETCAST_METRICS_PUBLIC`` is set.
    """
    body = generate_latest(REGISTRY) + generate_latest(app_state(request).metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
