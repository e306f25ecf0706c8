"""The hooks the API, the worker and the command line call: one line each."""

import logging
import socket
import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from fastapi import FastAPI
from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from starlette.requests import Request
from starlette.responses import Response

from contextiq.config import Settings
from contextiq.observability.heartbeat import Heartbeat
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


class _IPv6Server(ThreadingWSGIServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """A probe every few seconds would fill the log; requests are not worth a line here."""


def _worker_port_app(heartbeat: Heartbeat, metrics: bool) -> WSGIApplication:
    """`/live` from the worker's loop clock; any other path is the scrape (404 with metrics off)."""
    scrape = make_wsgi_app(exposition_registry()) if metrics else None

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        if environ.get("PATH_INFO") == "/live":
            if heartbeat.alive():
                status, body = "200 OK", "alive\n"
            else:
                silent = heartbeat.silent_for()
                status, body = "503 Service Unavailable", f"event loop silent for {silent:.0f} s\n"
        elif scrape is not None:
            return list(scrape(environ, start_response))
        else:
            status, body = "404 Not Found", "metrics are off (CONTEXTIQ_METRICS_ENABLED)\n"
        start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
        return [body.encode()]

    return app


def serve_worker_port(settings: Settings, heartbeat: Heartbeat) -> WSGIServer | None:
    """`contextiq worker` has no HTTP API: `/metrics` and `/live` on a port of its own, if set.

    The port is served with metrics off too, so a liveness probe pointed at it keeps working.
    """
    port = settings.worker_metrics_port
    if not port:
        return None
    app = _worker_port_app(heartbeat, metrics=settings.metrics_enabled)
    server_class = _IPv6Server if ":" in settings.host else ThreadingWSGIServer
    try:
        server = make_server(settings.host, port, app, server_class, _QuietHandler)
    except OSError as exc:  # the port is taken: the worker still works, unobserved
        log.warning("worker port %d not served: %s", port, exc)
        return None
    threading.Thread(target=server.serve_forever, name="worker-port", daemon=True).start()
    log.info("worker metrics and liveness on http://%s:%d (/metrics, /live)", settings.host, port)
    return server
