"""Every route with every kind of caller, generated from the OpenAPI: a new route cannot be missed.

Each operation must carry `x-access` (written by `secure_routes` from the route's `allow(...)`),
and each access level has one row of expected outcomes here. "ok" means the request got past
authorization: any status but 401/403, and never a server error.
"""

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI

from contextiq.security import secure_routes
from tests.security.conftest import OTHER, USER, Secured, bearer, token

OK = "ok"
CALLERS = ("none", "client", "admin", "own token", "other token", "expired token")
EXPECTED: dict[str, tuple[object, ...]] = {
    "public": (OK, OK, OK, OK, OK, OK),
    "read": (401, OK, OK, OK, OK, 401),
    "own-read": (401, OK, OK, OK, 403, 401),
    "own-write": (401, OK, OK, OK, 403, 401),
    "write": (401, OK, OK, 403, 403, 401),
    "catalog": (401, 403, OK, 403, 403, 401),
    "admin": (401, 403, OK, 403, 403, 401),
    "admin-or-own": (401, 403, OK, OK, 403, 401),
}
CONTENT = "content_0001"
PARAMS = {"user_id": USER, "content_id": CONTENT, "name": "matrix-experiment"}
#: A session id is a path sample only: in a query it is the alternative to `user_id`.
PATH_PARAMS = {**PARAMS, "session_id": "matrix-session"}
EVENT = {"user_id": USER, "content_id": CONTENT, "interaction_type": "view"}
BODIES: dict[str, Any] = {
    "InteractionIn": EVENT,
    "BatchInteractionsIn": {"interactions": [EVENT]},
    "ContentIn": [{"content_id": "matrix_item", "title": "Matrix", "category": "test"}],
    "ImpressionSeenIn": {"recommendation_id": "matrix-rec", "user_id": USER, "positions": [1]},
    "SessionMergeIn": {"session_id": "matrix-session"},
    "RuleIn": {"name": "matrix-rule", "kind": "boost", "filter": 'category == "x"', "factor": 2},
}


def _headers(secured: Secured, caller: str) -> dict[str, str]:
    return {
        "none": {},
        "client": bearer(secured.client_key),
        "admin": {"X-API-Key": secured.admin_key},
        "own token": bearer(token(USER)),
        "other token": bearer(token(OTHER)),
        "expired token": bearer(token(USER, expires_in=-3600)),
    }[caller]


def _body(operation: dict[str, Any]) -> Any:
    if "requestBody" not in operation:
        return None
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    ref = schema.get("$ref") or schema.get("items", {}).get("$ref", "")
    # An unknown body is sent empty: authorization is decided before the body is validated.
    return BODIES.get(ref.rsplit("/", 1)[-1], {})


def _url(path: str, operation: dict[str, Any]) -> tuple[str, dict[str, str]]:
    query: dict[str, str] = {}
    for param in operation.get("parameters", []):
        name = param["name"]
        if param["in"] == "path":
            path = path.replace("{" + name + "}", PATH_PARAMS[name])
        elif param["in"] == "query" and (param.get("required") or name in PARAMS):
            # An optional `user_id` (one of user_id/session_id) still decides who may call.
            assert name in PARAMS, f"add a sample value for the required query parameter {name}"
            query[name] = PARAMS[name]
    return path, query


def _operations(secured: Secured) -> list[tuple[str, str, dict[str, Any]]]:
    schema = secured.client.get("/openapi.json", headers=bearer(secured.admin_key)).json()
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def test_every_operation_declares_a_known_access(secured: Secured) -> None:
    operations = _operations(secured)
    assert len(operations) >= 14
    for method, path, operation in operations:
        assert operation.get("x-access") in EXPECTED, f"{method} {path} has no known x-access"


def test_the_matrix(secured: Secured) -> None:
    failures = []
    # Destructive operations last, so every other row runs against the full demo data.
    ordered = sorted(_operations(secured), key=lambda o: o[0] == "DELETE")
    for method, path, operation in ordered:
        url, query = _url(path, operation)
        body = _body(operation)
        for caller, expected in zip(CALLERS, EXPECTED[operation["x-access"]], strict=True):
            response = secured.client.request(
                method, url, params=query, json=body, headers=_headers(secured, caller)
            )
            status = response.status_code
            if expected == OK:
                passed = status not in (401, 403) and status < 500
            else:
                passed = status == expected and "error" in response.json()
            if not passed:
                failures.append(f"{method} {path} as {caller}: {status}, expected {expected}")
    assert not failures, "\n".join(failures)


def test_an_api_route_without_a_declared_access_stops_the_app() -> None:
    router = APIRouter()

    @router.get("/forgotten")
    async def forgotten() -> dict[str, str]:
        return {}

    app = FastAPI()
    app.include_router(router, prefix="/api/v1")
    with pytest.raises(RuntimeError, match="/api/v1/forgotten declares no access"):
        secure_routes(app)
