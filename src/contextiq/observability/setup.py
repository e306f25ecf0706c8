"""The hooks the API, the worker and the command line call: one line each."""

import logging
from wsgiref.simple_server import WSGIServer

from fastapi import FastAPI
from prometheus_client import start_http_server
from starlette.requests import Request
from starlette.responses import Response

from contextiq.config import Settings
from contextiq.observability.metrics import CONTENT_TYPE, exposition, exposition_registry
from contextiq.observability.middleware import ObservabilityMiddleware

log = logging.getLogger(__name__)


async def metrics_endpoint(_: Request) -> Response:
    return Response(exposition(), media_type=CONTENT_TYPE)


def install_observability(app: FastAPI, settings: Settings) -> None:
    """Request ids, one log line per request and, when enabled, `GET /metrics`.

    Call it before mounting the web UI at `/`, which would otherwise answer `/metrics`.
    """
    app.add_middleware(ObservabilityMiddleware, metrics=settings.metrics_enabled)
    if settings.metrics_enabled:
        # A FastAPI route, not a plain Starlette one: the request-duration middleware
        # finds only those in the scope, so scrapes would count as "unmatched".
        app.add_api_route("/metrics", metrics_endpoint, include_in_schema=False)


def serve_worker_metrics(settings: Settings) -> WSGIServer | None:
    """`contextiq worker` has no HTTP API: /metrics on a port of its own, when one is set."""
    if not settings.metrics_enabled or not settings.worker_metrics_port:
        return None
    port = settings.worker_metrics_port
    try:
        server, _ = start_http_server(port, settings.host, registry=exposition_registry())
    except OSError as exc:  # the port is taken: the worker still works, unobserved
        log.warning("worker metrics not served on port %d: %s", port, exc)
        return None
    log.info("worker metrics on http://%s:%d/metrics", settings.host, port)
    return server
