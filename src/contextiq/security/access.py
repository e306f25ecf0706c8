"""Who may call what: every route declares one `Access`, checked by one dependency.

A route opts in with `dependencies=[allow(Access.READ)]` (or on its router). `secure_routes`
(called once by the app) refuses to start an app with an `/api` route that declares none, and
writes each route's access into the OpenAPI as `x-access`, from which the authorization matrix
test is generated.

| access        | no credentials (auth off / on) | user token       | client | admin |
|---------------|--------------------------------|------------------|--------|-------|
| public        | yes / yes                      | yes              | yes    | yes   |
| read          | yes / 401                      | yes              | yes    | yes   |
| own-read      | yes / 401                      | own user_id only | yes    | yes   |
| own-write     | open writes / 401              | own user_id only | yes    | yes   |
| write         | open writes / 401              | 403              | yes    | yes   |
| catalog       | open writes / 401              | 403              | 403    | yes   |
| admin         | 401                            | 403              | 403    | yes   |
| admin-or-own  | 401                            | own user_id only | 403    | yes   |

"Open writes": with auth off, writes need no key unless CONTEXTIQ_API_KEY is set (as before).
"""

import secrets
from collections.abc import Awaitable, Callable, Iterable
from enum import StrEnum
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.datastructures import Headers

from contextiq.api.errors import ApiError
from contextiq.config import Settings
from contextiq.domain import session_subject
from contextiq.security.audit import person_pseudonyms, user_pseudonym
from contextiq.security.keys import KeyRing
from contextiq.security.principal import ANONYMOUS, Principal, Role
from contextiq.security.rate_limit import RateLimited, RateLimits
from contextiq.security.tokens import TokenRejected, TokenVerifier


class Access(StrEnum):
    PUBLIC = "public"
    READ = "read"
    OWN_READ = "own-read"
    OWN_WRITE = "own-write"
    WRITE = "write"
    CATALOG = "catalog"
    ADMIN = "admin"
    ADMIN_OR_OWN = "admin-or-own"


#: Access levels whose requests are written to the audit log.
AUDITED = {Access.CATALOG, Access.ADMIN, Access.ADMIN_OR_OWN}
OPEN_WRITES = {Access.WRITE, Access.OWN_WRITE, Access.CATALOG}
#: Access levels a user token may use for its own user id (path/query `user_id`, or the body).
OWN = {Access.OWN_READ, Access.OWN_WRITE, Access.ADMIN_OR_OWN}
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
#: How credentials are sent, for the OpenAPI (and the "Authorize" button of /docs).
SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`contextiq keys create`) or a user token (JWT).",
    },
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers=_CHALLENGE)


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def credential(headers: Headers) -> str | None:
    """`Authorization: Bearer X`, else `X-API-Key`, else the older `X-Admin-Key`."""
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise unauthorized("use `Authorization: Bearer <key or token>`")
        return value.strip()
    return headers.get("x-api-key") or headers.get("x-admin-key") or None


class Gate:
    """Authenticates a request, applies the rate limits and decides on its access."""

    def __init__(
        self,
        settings: Settings,
        keys: KeyRing,
        tokens: TokenVerifier | None,
        limits: RateLimits,
    ) -> None:
        self.auth_required = settings.auth_required
        self.open_writes = not settings.auth_required and settings.api_key is None
        self._bootstrap = [
            (key, Principal(role, f"env:{name}"))
            for key, role, name in (
                (settings.api_key, Role.CLIENT, "CONTEXTIQ_API_KEY"),
                (settings.admin_key, Role.ADMIN, "CONTEXTIQ_ADMIN_KEY"),
            )
            if key
        ]
        self.keys = keys
        self.tokens = tokens
        self.limits = limits

    async def authenticate(self, headers: Headers) -> Principal:
        given = credential(headers)
        if given is None:
            return ANONYMOUS
        matched: Principal | None = None
        for key, principal in self._bootstrap:  # compare with every one: no early exit
            if secrets.compare_digest(key.encode(), given.encode()):
                matched = principal
        if matched is not None:
            return matched
        if given.count(".") == 2:  # header.payload.signature: a JWT, never a stored key
            if self.tokens is None:
                raise unauthorized("user tokens are not accepted: no JWT key is configured")
            try:
                subject = self.tokens.subject(given)
            except TokenRejected as exc:
                raise unauthorized(str(exc)) from exc
            # Named in the audit log by the same pseudonym as a target: the log outlives an
            # erasure without naming the person.
            return Principal(Role.USER, user_pseudonym(subject), subject)
        stored = await self.keys.verify(given)
        if stored is None:
            raise unauthorized("the key is not valid")
        return Principal(stored.role, f"key:{stored.name}")

    def authorize(self, principal: Principal, access: Access, user_id: str | None) -> None:
        role = principal.role
        if role is Role.ADMIN or access is Access.PUBLIC:
            return
        if role is Role.ANONYMOUS:
            if self.auth_required:
                raise unauthorized("this server requires an API key or a user token")
            if access in (Access.READ, Access.OWN_READ):
                return
            if access in OPEN_WRITES and self.open_writes:
                return
            what = "an admin key" if access in AUDITED else "an API key"
            raise unauthorized(f"{what} is required")
        if role is Role.USER:
            if access is Access.READ:
                return
            if access in OWN:
                if user_id is not None and user_id != principal.subject:
                    raise forbidden("a user token may only act for its own user")
                return
            raise forbidden("a user token cannot do this; an API key with a role can")
        # A client key: everything but the admin routes.
        if access in AUDITED:
            raise forbidden("an admin key is required")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


_ACCESS_OF: dict[Callable[..., Awaitable[Principal]], Access] = {}


def _gate_of(request: Request) -> Gate:
    gate: Gate = request.app.state.services.gate
    return gate


def allow(access: Access) -> Any:
    """The dependency a route (or router) declares its access with."""

    async def guard(request: Request) -> Principal:
        if access is Access.PUBLIC:
            return ANONYMOUS
        gate = _gate_of(request)
        address = client_address(request)
        try:
            await gate.limits.check_ip(address)
            principal = await gate.authenticate(request.headers)
            await gate.limits.check(
                principal.name if principal.role is not Role.ANONYMOUS else f"ip:{address}"
            )
        except RateLimited as exc:
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests from {exc.what}; retry in {exc.retry_after} s",
                {"retry_after": exc.retry_after},
                headers={"Retry-After": str(exc.retry_after)},
            ) from exc
        user_id = request.path_params.get("user_id") or request.query_params.get("user_id")
        if user_id is None and "session_id" in request.query_params:
            # A user token acts as its user, never as an anonymous session.
            user_id = session_subject(request.query_params["session_id"])
        gate.authorize(principal, access, user_id)
        request.state.principal = principal
        if access in AUDITED:
            request.state.audit = audit_entry(request, principal)
        return principal

    guard.__name__ = f"allow_{access.name.lower()}"
    _ACCESS_OF[guard] = access
    return Depends(guard)


def audit_entry(request: Request, principal: Principal) -> dict[str, Any]:
    """What the security middleware writes once the response status is known."""
    templates: dict[tuple[Any, str], str] = getattr(request.app.state, "route_templates", {})
    template = templates.get((request.scope.get("endpoint"), request.method), request.url.path)
    params = dict(request.path_params)
    named = person_pseudonyms(params)  # a session id may name a person too
    target = named.get("session_id") or named.get("user_id")
    if not named and params:
        target = ",".join(f"{k}:{v}" for k, v in sorted(params.items()))
    return {
        "actor": principal.name,
        "action": f"{request.method} {template}",
        "target": target,
    }


async def current_principal(request: Request) -> Principal:
    """The caller, as the route's access dependency found them."""
    principal: Principal = getattr(request.state, "principal", ANONYMOUS)
    return principal


def require_user(principal: Principal, user_id: str) -> None:
    """For a body that names a user: a user token may only act as itself."""
    if principal.role is Role.USER and principal.subject != user_id:
        raise forbidden("a user token may only act for its own user")


def declared_access(dependencies: Iterable[Any]) -> Access | None:
    found = {_ACCESS_OF[d.dependency] for d in dependencies if d.dependency in _ACCESS_OF}
    if len(found) > 1:
        raise RuntimeError(f"more than one access declared: {sorted(found)}")
    return found.pop() if found else None


def secure_routes(app: FastAPI) -> None:
    """Every API route declares its access (else the app does not start); the OpenAPI says it."""
    declared: dict[tuple[str, str], Access] = {}
    templates: dict[tuple[Any, str], str] = {}
    # Route contexts carry the dependencies of the routers a route was included through.
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        methods = sorted(route.methods or ())
        path = route.path_format or ""
        access = declared_access(route.dependencies)
        if access is None:
            if path.startswith("/api/"):
                raise RuntimeError(
                    f"route {methods} {path} declares no access: add "
                    "`dependencies=[allow(Access....)]` (contextiq.security.access)"
                )
            continue
        for method in methods:
            declared[path, method.lower()] = access
            templates[route.endpoint, method] = path
    app.state.route_templates = templates  # the audit log names routes by their template
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build_openapi()
        schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(SCHEMES)
        for (path, method), access in declared.items():
            operation = schema["paths"][path][method]
            operation["x-access"] = access.value
            if access is not Access.PUBLIC:
                operation["security"] = [{name: []} for name in SCHEMES]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
