"""Interactions in: one at a time, or up to 10,000 per batch."""

from typing import Any

from fastapi import APIRouter, status
from pydantic import ValidationError

from contextiq.api.deps import ServicesDep, WriteAccess
from contextiq.api.errors import ApiError, documented
from contextiq.api.schemas import (
    BatchInteractionsIn,
    BatchInteractionsResult,
    InteractionAccepted,
    InteractionIn,
    RejectedItem,
)
from contextiq.domain import Interaction

router = APIRouter(
    tags=["interactions"], responses=documented(401, 404), dependencies=[WriteAccess]
)


@router.post(
    "/interact",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=InteractionAccepted,
)
async def interact(body: InteractionIn, services: ServicesDep) -> InteractionAccepted:
    """Record one interaction; a repeated `event_id` is accepted and counted once."""
    generation = await services.rec_cache.catalog_generation()
    if not await services.catalog.get_many([body.content_id], generation):
        raise ApiError(404, "content_not_found", f"content {body.content_id!r} does not exist")
    item = body.to_interaction(services.settings)
    result = await services.writer.write([item])
    return InteractionAccepted(
        event_id=item.event_id, status="accepted" if result.accepted else "duplicate"
    )


@router.post(
    "/interactions/batch",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BatchInteractionsResult,
)
async def interactions_batch(
    body: BatchInteractionsIn, services: ServicesDep
) -> BatchInteractionsResult:
    """Validate each event on its own; valid ones are stored, the rest are reported."""
    rejected: list[RejectedItem] = []
    valid: list[tuple[int, InteractionIn]] = []
    for index, raw in enumerate(body.interactions):
        try:
            valid.append((index, InteractionIn.model_validate(raw)))
        except ValidationError as exc:
            rejected.append(RejectedItem(index=index, code="validation_error", message=_first(exc)))
    known = await services.store.existing_content_ids([v.content_id for _, v in valid])
    items: list[Interaction] = []
    for index, event in valid:
        if event.content_id in known:
            items.append(event.to_interaction(services.settings))
        else:
            rejected.append(
                RejectedItem(
                    index=index,
                    code="content_not_found",
                    message=f"content {event.content_id!r} does not exist",
                )
            )
    result = await services.writer.write(items)
    return BatchInteractionsResult(
        accepted=len(result.accepted),
        duplicates=len(result.duplicates),
        rejected=sorted(rejected, key=lambda r: r.index),
    )


def _first(exc: ValidationError) -> str:
    error: dict[str, Any] = dict(exc.errors()[0])
    where = ".".join(str(p) for p in error.get("loc", ())) or "event"
    return f"{where}: {error.get('msg')}"
