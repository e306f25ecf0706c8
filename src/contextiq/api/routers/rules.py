"""Promotion rules (admin): boost matching items, reserve them slots, pin an item."""

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from contextiq.api.deps import RulesDep
from contextiq.api.errors import ApiError, documented
from contextiq.api.filters import checked
from contextiq.api.schemas import RuleIn, RuleOut
from contextiq.rules.definitions import Rule
from contextiq.security import Access, allow
from contextiq.store.rules import RuleConflict

router = APIRouter(tags=["rules"], responses=documented(401, 403, 429))
ADMIN = [allow(Access.ADMIN)]
#: What each kind needs besides its name; it takes none of the other kinds' fields.
REQUIRED = {
    "boost": ("filter", "factor"),
    "reserve": ("filter", "share"),
    "pin": ("content_id", "position"),
}
KIND_FIELDS = tuple(dict.fromkeys(name for fields in REQUIRED.values() for name in fields))


def _out(rule: Rule) -> RuleOut:
    return RuleOut.model_validate(rule, from_attributes=True)


def _rule(body: RuleIn) -> Rule:
    missing = [name for name in REQUIRED[body.kind] if getattr(body, name) is None]
    if missing:
        raise ApiError(400, "bad_request", f"a {body.kind} rule needs {' and '.join(missing)}")
    # Stored, another kind's field would only mislead: a pin with a filter still pins everywhere.
    foreign = [
        name
        for name in KIND_FIELDS
        if name not in REQUIRED[body.kind] and getattr(body, name) is not None
    ]
    if foreign:
        raise ApiError(400, "bad_request", f"a {body.kind} rule takes no {' or '.join(foreign)}")
    starts, ends = body.starts_at, body.ends_at
    if starts is not None and ends is not None and ends <= starts:
        raise ApiError(400, "bad_request", "ends_at must come after starts_at")
    return Rule(**(body.model_dump() | {"filter": checked(body.filter)}))


@router.post(
    "/rules",
    status_code=status.HTTP_201_CREATED,
    response_model=RuleOut,
    dependencies=ADMIN,
    responses=documented(400, 409),
)
async def create_rule(body: RuleIn, rules: RulesDep) -> RuleOut:
    """Add a rule; every replica's lists follow it on their next request (409: name taken)."""
    try:
        return _out(await rules.add(_rule(body)))
    except RuleConflict:
        raise ApiError(409, "conflict", f"rule {body.name!r} exists already") from None


@router.get("/rules", response_model=list[RuleOut], dependencies=ADMIN)
async def list_rules(rules: RulesDep) -> list[RuleOut]:
    return [_out(r) for r in await rules.list()]


@router.delete(
    "/rules/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=ADMIN,
    responses=documented(404),
)
async def delete_rule(
    name: Annotated[str, Path(min_length=1, max_length=100)], rules: RulesDep
) -> Response:
    if not await rules.delete(name):
        raise ApiError(404, "not_found", f"rule {name!r} does not exist")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
