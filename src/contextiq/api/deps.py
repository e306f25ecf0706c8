"""Request dependencies: the process's services and the API keys.

All are `async def`: FastAPI runs plain `def` dependencies in a thread pool, a hop per request.
"""

import secrets
from typing import Annotated

from fastapi import Depends, Header, Request

from contextiq.api.errors import ApiError
from contextiq.services import Services


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def _check(expected: str | None, given: str | None, what: str) -> None:
    if expected is None:
        return
    if given is None or not secrets.compare_digest(expected, given):
        raise ApiError(401, "unauthorized", f"a valid {what} header is required")


async def require_api_key(
    services: ServicesDep, x_api_key: Annotated[str | None, Header()] = None
) -> None:
    """Write routes need `X-API-Key` when `CONTEXTIQ_API_KEY` is set."""
    _check(services.settings.api_key, x_api_key, "X-API-Key")


async def require_admin_key(
    services: ServicesDep, x_admin_key: Annotated[str | None, Header()] = None
) -> None:
    """Admin routes are closed unless `CONTEXTIQ_ADMIN_KEY` is set and given."""
    if services.settings.admin_key is None:
        raise ApiError(403, "forbidden", "admin routes are disabled: set CONTEXTIQ_ADMIN_KEY")
    _check(services.settings.admin_key, x_admin_key, "X-Admin-Key")


WriteAccess = Depends(require_api_key)
AdminAccess = Depends(require_admin_key)
