"""One JSON error shape for every failure: {"error": {"code", "message", "details"}}."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from contextiq.api.schemas import ErrorResponse
from contextiq.store.group_commit import WriterBusy
from contextiq.store.transient import is_passing

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}
#: PostgreSQL's refusals of a character its text cannot hold (NUL, or `\u0000` in JSON): the
#: request's fault, whichever query it reached, so a 400 and not a 500 (SQLite stores them).
_UNSTORABLE_TEXT = {"22021", "22P05"}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error statuses, all with the one error body."""
    return {
        status: {"model": ErrorResponse, "description": _CODES[status].replace("_", " ")}
        for status in statuses
    }


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Echoing inputs back could carry undecodable bytes; location and reason are enough.
    return [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg")),
            "type": str(e.get("type")),
        }
        for e in exc.errors()
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(p for p in first["loc"] if p != "body") or "request"
        return error_response(422, "validation_error", f"{where}: {first['msg']}", details)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, "error")
        response = error_response(exc.status_code, code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        if getattr(exc.orig, "sqlstate", None) in _UNSTORABLE_TEXT:
            message = "the request holds a character that cannot be stored (NUL, \\u0000)"
            return error_response(400, "bad_request", message)
        return _unexpected(exc)

    @app.exception_handler(WriterBusy)
    async def _busy(_: Request, exc: WriterBusy) -> JSONResponse:
        log.warning("answered 503: %s", exc)
        message = "too many interactions are waiting for the database; try again"
        return error_response(503, "unavailable", message, headers={"Retry-After": "1"})

    @app.exception_handler(ConnectionError)
    @app.exception_handler(TimeoutError)
    async def _unreachable(_: Request, exc: Exception) -> JSONResponse:
        # Its own handler: the one for Exception answers, then raises it again to the server.
        return _unexpected(exc)

    @app.exception_handler(Exception)
    async def _any(_: Request, exc: Exception) -> JSONResponse:
        return _unexpected(exc)


def _unexpected(exc: Exception) -> JSONResponse:
    if is_passing(exc):
        # Still failing after the store's retries (the database down or failing over): a
        # passing state that clients and load balancers retry, not a fault in the code.
        log.warning("answered 503: %s", type(exc).__name__)
        message = "a service this request needs is unavailable; try again"
        return error_response(503, "unavailable", message, headers={"Retry-After": "1"})
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal server error")
