"""The audit log: who did what, when, with what outcome.

Targets that are user ids, or sessions by their subject, are written as a digest
(`user:<hash>`): the log must outlive an erasure without naming the person, yet still answer
"was this user's data deleted?" for whoever knows the id (`user_pseudonym`).
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from contextiq.domain import as_utc, session_subject
from contextiq.store.store import Store, utcnow
from contextiq.store.tables import AuditRow


def user_pseudonym(user_id: str) -> str:
    return "user:" + hashlib.sha256(f"contextiq-audit\0{user_id}".encode()).hexdigest()[:24]


def person_pseudonyms(params: Mapping[str, object]) -> dict[str, str]:
    """The path parameters that name a person (`user_id`, `session_id` by its subject), each
    as its pseudonym: what the audit log and the request log write in their place."""
    named: dict[str, str] = {}
    if (user_id := params.get("user_id")) is not None:
        named["user_id"] = user_pseudonym(str(user_id))
    if (session_id := params.get("session_id")) is not None:
        named["session_id"] = user_pseudonym(session_subject(str(session_id)))
    return named


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    status: int
    details: dict[str, Any]


class AuditLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(
        self,
        actor: str,
        action: str,
        target: str | None,
        status: int,
        details: dict[str, Any] | None = None,
    ) -> None:
        async with self.store.sessions.begin() as session:
            session.add(
                AuditRow(
                    at=utcnow(),
                    actor=actor[:200],
                    action=action[:200],
                    target=target[:200] if target else None,
                    status=status,
                    details=details or {},
                )
            )

    async def entries(
        self,
        limit: int,
        before_id: int | None = None,
        actor: str | None = None,
        action: str | None = None,
    ) -> list[AuditEntry]:
        """Newest first; page with `before_id` (the last id of the previous page)."""
        stmt = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if before_id is not None:
            stmt = stmt.where(AuditRow.id < before_id)
        if actor is not None:
            stmt = stmt.where(AuditRow.actor == actor)
        if action is not None:
            stmt = stmt.where(AuditRow.action == action)
        async with self.store.sessions() as session:
            return [
                AuditEntry(
                    id=r.id,
                    at=as_utc(r.at),
                    actor=r.actor,
                    action=r.action,
                    target=r.target,
                    status=r.status,
                    details=dict(r.details or {}),
                )
                for r in await session.scalars(stmt)
            ]
