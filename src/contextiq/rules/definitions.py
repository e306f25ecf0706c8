"""Promotion rules as the read path uses them: boost, reserve a share of slots, pin."""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from contextiq.rules.expression import Expr, parse

RuleKind = Literal["boost", "reserve", "pin"]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    kind: RuleKind
    #: Which items the rule touches (boost, reserve); None for a pin.
    filter: str | None = None
    #: boost: matching items' scores are multiplied by it.
    factor: float | None = None
    #: reserve: the share of a list's slots kept for matching items (0..1).
    share: float | None = None
    #: pin: this item at this 1-based position.
    content_id: str | None = None
    position: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    created_at: datetime | None = None

    @property
    def expression(self) -> Expr | None:
        return None if self.filter is None else parse(self.filter)

    def live(self, now: datetime) -> bool:
        if self.starts_at is not None and now < self.starts_at:
            return False
        return self.ends_at is None or now < self.ends_at

    @property
    def reason(self) -> str:
        verb = {"boost": "Boosted", "reserve": "Promoted", "pin": "Pinned"}[self.kind]
        return f'{verb} by rule "{self.name}"'
