"""Interactions in: one at a time, or up to 10,000 per batch."""

import uuid
from datetime import UTC, datetime
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
from contextiq.domain import Interaction, interaction_weight
from contextiq.services import Services

router = APIRouter(
    tags=["interactions"], responses=documented(401, 404), dependencies=[WriteAccess]
)


def to_interaction(services: Services, body: InteractionIn) -> Interaction:
    occurred = body.timestamp or datetime.now(UTC)
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)
    return Interaction(
        event_id=body.event_id or uuid.uuid4().hex,
        user_id=body.user_id,
        content_id=body.content_id,
        interaction_type=body.interaction_type,
        weight=interaction_weight(services.settings, body.interaction_type, body.duration_seconds),
        occurred_at=occurred,
        duration_seconds=body.duration_seconds,
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
    item = to_interaction(services, body)
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
            items.append(to_interaction(services, event))
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
