"""Promotion rules in their table: what /api/v1/rules writes and every replica reads."""

from dataclasses import asdict

from sqlalchemy import delete, select

from contextiq.domain import as_utc
from contextiq.rules.definitions import Rule
from contextiq.store.store import Store, utcnow
from contextiq.store.tables import RuleRow


class RuleConflict(Exception):
    """A rule of that name exists already."""


def _rule(row: RuleRow) -> Rule:
    return Rule(
        name=row.name,
        kind=row.kind,  # type: ignore[arg-type]  # written only from a RuleKind
        filter=row.filter,
        factor=row.factor,
        share=row.share,
        content_id=row.content_id,
        position=row.position,
        starts_at=None if row.starts_at is None else as_utc(row.starts_at),
        ends_at=None if row.ends_at is None else as_utc(row.ends_at),
        created_at=as_utc(row.created_at),
    )


class RuleStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def all(self) -> list[Rule]:
        async with self.store.sessions() as session:
            rows = await session.scalars(select(RuleRow).order_by(RuleRow.created_at, RuleRow.name))
            return [_rule(r) for r in rows]

    async def add(self, rule: Rule) -> Rule:
        async with self.store.sessions.begin() as session:
            if await session.get(RuleRow, rule.name) is not None:
                raise RuleConflict(rule.name)
            row = RuleRow(**(asdict(rule) | {"created_at": utcnow()}))
            session.add(row)
        return _rule(row)

    async def delete(self, name: str) -> bool:
        async with self.store.sessions.begin() as session:
            result = await session.execute(delete(RuleRow).where(RuleRow.name == name))
            return bool(result.rowcount)  # type: ignore[attr-defined]
