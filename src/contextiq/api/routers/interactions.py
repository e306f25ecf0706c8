"""Interactions in: one at a time, or up to 10,000 per batch."""

from typing import Any

from fastapi import APIRouter, status
from pydantic import ValidationError

from contextiq.api.deps import InteractionServiceDep, PrincipalDep, SettingsDep
from contextiq.api.errors import ApiError, documented
from contextiq.api.schemas import (
    BatchInteractionsIn,
    BatchInteractionsResult,
    InteractionAccepted,
    InteractionIn,
    RejectedItem,
)
from contextiq.domain import Interaction
from contextiq.interactions import UnknownContent
from contextiq.security import Access, allow, require_user

router = APIRouter(tags=["interactions"], responses=documented(401, 403, 404, 429, 503))


@router.post(
    "/interact",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=InteractionAccepted,
    dependencies=[allow(Access.OWN_WRITE)],
)
async def interact(
    body: InteractionIn,
    settings: SettingsDep,
    interactions: InteractionServiceDep,
    principal: PrincipalDep,
) -> InteractionAccepted:
    """Record one interaction, of a user or an anonymous session; a repeated `event_id` is
    accepted and counted once."""
    require_user(principal, body.subject)
    item = body.to_interaction(settings)
    try:
        accepted = await interactions.record(item)
    except UnknownContent as exc:
        raise ApiError(404, "content_not_found", str(exc)) from exc
    return InteractionAccepted(
        event_id=item.event_id, status="accepted" if accepted else "duplicate"
    )


@router.post(
    "/interactions/batch",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BatchInteractionsResult,
    dependencies=[allow(Access.WRITE)],
)
async def interactions_batch(
    body: BatchInteractionsIn, settings: SettingsDep, interactions: InteractionServiceDep
) -> BatchInteractionsResult:
    """Validate each event on its own; valid ones are stored, the rest are reported."""
    rejected: list[RejectedItem] = []
    positions: list[int] = []
    items: list[Interaction] = []
    for index, raw in enumerate(body.interactions):
        try:
            items.append(InteractionIn.model_validate(raw).to_interaction(settings))
            positions.append(index)
        except ValidationError as exc:
            rejected.append(RejectedItem(index=index, code="validation_error", message=_first(exc)))
    recorded = await interactions.record_many(items)
    for n in recorded.unknown:
        rejected.append(
            RejectedItem(
                index=positions[n],
                code="content_not_found",
                message=str(UnknownContent(items[n].content_id)),
            )
        )
    result = recorded.result
    return BatchInteractionsResult(
        accepted=len(result.accepted),
        duplicates=len(result.duplicates),
        rejected=sorted(rejected, key=lambda r: r.index),
    )


def _first(exc: ValidationError) -> str:
    error: dict[str, Any] = dict(exc.errors()[0])
    where = ".".join(str(p) for p in error.get("loc", ())) or "event"
    return f"{where}: {error.get('msg')}"
