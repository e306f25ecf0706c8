"""The audit log, newest first, for admins."""

from typing import Annotated

from fastapi import APIRouter, Query

from contextiq.api.deps import AuditLogDep
from contextiq.api.errors import documented
from contextiq.api.schemas import AuditEntryOut, AuditPage
from contextiq.security import Access, allow

router = APIRouter(tags=["audit"], responses=documented(401, 403, 429))


@router.get("/audit", response_model=AuditPage, dependencies=[allow(Access.ADMIN)])
async def audit_log(
    audit: AuditLogDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    actor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    action: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> AuditPage:
    """Who did what, when: catalogue writes, retraining, erasure, export, key changes."""
    entries = await audit.entries(limit, before_id, actor, action)
    return AuditPage(
        entries=[
            AuditEntryOut(
                id=e.id,
                at=e.at,
                actor=e.actor,
                action=e.action,
                target=e.target,
                status=e.status,
                details=e.details,
            )
            for e in entries
        ],
        next_before_id=entries[-1].id if len(entries) == limit else None,
    )
