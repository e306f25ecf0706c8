"""The one interface every language-model provider implements."""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LikedItem:
    title: str
    category: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UserContext:
    """What the scorer may know about a user: their recent positive items."""

    user_id: str
    recent: tuple[LikedItem, ...]


@dataclass(frozen=True, slots=True)
class Candidate:
    content_id: str
    title: str
    category: str
    tags: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class LLMScore:
    score: float  # clamped to 0..1
    reason: str


class Scorer(ABC):
    """Scores candidates for contextual relevance to a user."""

    provider: str
    model: str

    @abstractmethod
    async def score(
        self, user: UserContext, candidates: Sequence[Candidate]
    ) -> dict[str, LLMScore]:
        """Scores keyed by content_id; ids it could not score are simply absent."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and threads."""
