"""Which served list an interaction came from, and what it adds to that list's counts.

An interaction naming a `recommendation_id` belongs to that impression, if the item was in
its rendered positions. One without it belongs to the user's latest impression within the
attribution window (before the interaction) that showed the item; otherwise to none.
Each rate counts an impression once (a second like on the same list adds nothing), the first
click gives the reciprocal rank, and on an interleaved list each newly clicked item credits
its team.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from contextiq.domain import Interaction, InteractionType
from contextiq.experiments.interleaving import outcome

#: One bit per type in `impressions.engaged`; the aggregate column each type's rate counts in.
TYPE_BITS = {t: 1 << n for n, t in enumerate(InteractionType)}
RATE_COLUMNS = {
    InteractionType.VIEW: "clicks",
    InteractionType.LIKE: "likes",
    InteractionType.SAVE: "saves",
    InteractionType.SHARE: "shares",
    InteractionType.DISLIKE: "dislikes",
}
CLICK = InteractionType.VIEW


@dataclass(slots=True)
class ImpressionState:
    """An impression row as the worker changes it while applying one batch."""

    recommendation_id: str
    user_id: str
    shown_at: datetime
    day: str
    model_version: str
    experiment: str
    arm: str
    items: list[str]
    teams: list[str] | None = None
    seen: list[int] | None = None
    engaged: int = 0
    clicked: list[int] = field(default_factory=list)
    dirty: bool = False

    @property
    def group(self) -> tuple[str, str, str, str]:
        return (self.day, self.model_version, self.experiment, self.arm)

    def position_of(self, content_id: str) -> int | None:
        """1-based position of a rendered item, or None."""
        try:
            position = self.items.index(content_id) + 1
        except ValueError:
            return None
        if self.seen is not None and position not in self.seen:
            return None
        return position

    def arms(self) -> list[str]:
        """The arms this impression counts for: its own, or both teams when interleaved."""
        if self.teams is not None:
            return sorted(set(self.teams))
        return [self.arm] if self.experiment else []


def attribute(
    interaction: Interaction,
    by_id: dict[str, ImpressionState],
    recent: Sequence[ImpressionState],
    window: timedelta,
) -> tuple[ImpressionState, int] | None:
    """The impression and position this interaction is credited to; `recent` newest first."""
    if interaction.recommendation_id is not None:
        named = by_id.get(interaction.recommendation_id)
        if named is None or named.user_id != interaction.user_id:
            return None
        position = named.position_of(interaction.content_id)
        return None if position is None else (named, position)
    at = interaction.occurred_at
    for impression in recent:
        if impression.shown_at > at:
            continue
        # A difference, not `at - window`: that overflows for a time within `window` of
        # year 1, which events stored before the API refused times before 1970 may carry.
        if at - impression.shown_at > window:
            break
        position = impression.position_of(interaction.content_id)
        if position is not None:
            return impression, position
    return None


@dataclass(frozen=True, slots=True)
class Engagement:
    """What one attributed interaction changes in the aggregates."""

    #: The rate column to add one to (first interaction of its type on this impression).
    column: str | None = None
    #: 1 / position of the impression's first click, else 0.
    reciprocal_rank: float = 0.0
    #: A click on a position not clicked before.
    new_click: bool = False
    #: Interleaving: the impression's outcome before and after this click, when it changed.
    outcome_change: tuple[str | None, str | None] | None = None


def engage(impression: ImpressionState, kind: InteractionType, position: int) -> Engagement:
    """Apply an attributed interaction to the impression; returns what the counts gain."""
    bit = TYPE_BITS[kind]
    first_of_type = not impression.engaged & bit
    if first_of_type:
        impression.engaged |= bit
        impression.dirty = True
    column = RATE_COLUMNS.get(kind) if first_of_type else None
    if kind is not CLICK or position in impression.clicked:
        return Engagement(column)
    reciprocal_rank = 0.0 if impression.clicked else 1.0 / position
    change = None
    if impression.teams is not None:
        before = outcome([impression.teams[p - 1] for p in impression.clicked])
        after = outcome([impression.teams[p - 1] for p in [*impression.clicked, position]])
        change = (before, after) if before != after else None
    impression.clicked.append(position)
    impression.dirty = True
    return Engagement(column, reciprocal_rank, True, change)
