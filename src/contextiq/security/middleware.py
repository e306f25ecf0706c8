"""Request hygiene for the whole app, as one ASGI middleware (no per-request task hop).

- bodies over `CONTEXTIQ_MAX_BODY_BYTES` get 413 before the route reads them (declared length)
  or as soon as the stream passes the limit (chunked);
- security headers on every response, and a strict Content-Security-Policy on the web UI;
- API responses are `Cache-Control: no-store`: they carry people's behaviour;
- requests that passed an audited access check are written to the audit log with their status.
"""

import logging
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contextiq.api.errors import error_response

log = logging.getLogger(__name__)

EVERY_RESPONSE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
UI_RESPONSE = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
API_RESPONSE = {"Cache-Control": "no-store"}
#: The interactive API docs load their script from a CDN; the UI's policy would block it.
_NOT_UI = ("/api/", "/docs", "/redoc", "/openapi.json")


def _too_large(limit: int) -> str:
    return f"the request body is over {limit} bytes (CONTEXTIQ_MAX_BODY_BYTES)"


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            status = 413 if declared.isdigit() else 400
            message = _too_large(limit) if status == 413 else "invalid Content-Length"
            code = "payload_too_large" if status == 413 else "bad_request"
            await error_response(status, code, message)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, _too_large(limit))
            return message

        path: str = scope["path"]
        extra = API_RESPONSE if path.startswith("/api/") else {}
        if not path.startswith(_NOT_UI):
            extra = UI_RESPONSE
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 500

        async def with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in (*EVERY_RESPONSE.items(), *extra.items()):
                    headers.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, limited, with_headers)
        finally:
            if "audit" in state:
                await _record(scope, state["audit"], status)


async def _record(scope: Scope, entry: dict[str, Any], status: int) -> None:
    try:
        await scope["app"].state.services.audit.record(status=status, **entry)
    except Exception:  # the action happened; losing its record must not fail the response
        log.exception("could not write the audit log entry for %s", entry.get("action"))
