"""One ASGI middleware per request: a request id, the duration histogram, one log line.

Pure ASGI rather than `BaseHTTPMiddleware`, so it adds no task or stream per request.
"""

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contextiq.observability.context import REQUEST_ID_HEADER, incoming_or_new, request_id
from contextiq.observability.metrics import HTTP_REQUEST_DURATION
from contextiq.observability.path_mask import masked_path

log = logging.getLogger("contextiq.access")

_HEADER = REQUEST_ID_HEADER.encode()
# Probes and scrapes arrive every few seconds from every pod: logged at debug level only.
_QUIET_PATHS = frozenset({"/metrics", "/api/v1/health", "/api/v1/health/live"})


def _route(scope: Scope) -> tuple[str, str] | None:
    """The raw path's part before the route that matched, and that route's template.

    A route inside an included router knows only its own part of the path; the prefix in
    front of it is what the raw path has before the part that route matched.
    """
    route = scope.get("route")
    template = getattr(route, "path_format", None)
    if template is None:
        return None
    params = scope.get("path_params") or {}
    try:
        matched = template.format(**{k: str(v) for k, v in params.items()})
    except (KeyError, IndexError, ValueError):
        return "", template
    path: str = scope["path"]
    prefix = path[: len(path) - len(matched)] if matched and path.endswith(matched) else ""
    return prefix, template


def route_template(scope: Scope) -> str:
    """`/api/v1/user-profile/{user_id}`, not the raw path: labels must stay few."""
    found = _route(scope)
    if found is None:
        return "unmatched"
    prefix, template = found
    return prefix + template or "/"


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: bool = True) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == _HEADER), None)
        rid = incoming_or_new(incoming)
        token = request_id.set(rid)
        status = 500
        started = time.perf_counter()
        answered: float | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (_HEADER, rid.encode())]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                answered = time.perf_counter()

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # Until the answer left, not until its background work (a cache put) ended.
            elapsed = (answered or time.perf_counter()) - started
            route = route_template(scope)
            if self.metrics:
                HTTP_REQUEST_DURATION.labels(scope["method"], route, str(status)).observe(elapsed)
            self._log(scope, route, status, elapsed)
            request_id.reset(token)

    @staticmethod
    def _log(scope: Scope, route: str, status: int, elapsed: float) -> None:
        level = logging.DEBUG if scope["path"] in _QUIET_PATHS else logging.INFO
        if not log.isEnabledFor(level):
            return
        path = masked_path(scope["path"])  # never the query string: it may carry what is not ours
        fields: dict[str, Any] = {
            "method": scope["method"],
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 3),
        }
        log.log(level, "%s %s %d", scope["method"], path, status, extra={"fields": fields})
