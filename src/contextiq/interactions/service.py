"""Recording interactions: the content must exist, then the group-commit writer stores them.

Routes convert and validate their input; this is the part every entry point shares.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from contextiq.domain import Interaction
from contextiq.recommend.catalog import Catalog
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.store.group_commit import GroupCommitWriter
from contextiq.store.records import RecordResult
from contextiq.store.store import Store


class UnknownContent(LookupError):
    """The interaction names content the catalogue does not hold."""

    def __init__(self, content_id: str) -> None:
        super().__init__(f"content {content_id!r} does not exist")
        self.content_id = content_id


@dataclass(frozen=True, slots=True)
class BatchRecorded:
    result: RecordResult
    #: Positions (in the given sequence) of interactions whose content does not exist.
    unknown: list[int]


class InteractionService:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        rec_cache: RecommendationCache,
        writer: GroupCommitWriter,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.rec_cache = rec_cache
        self.writer = writer

    async def record(self, item: Interaction) -> bool:
        """Store one interaction; False when its `event_id` was seen before."""
        generation = await self.rec_cache.catalog_generation()
        if not await self.catalog.get_many([item.content_id], generation):
            raise UnknownContent(item.content_id)
        result = await self.writer.write([item])
        return bool(result.accepted)

    async def record_many(self, items: Sequence[Interaction]) -> BatchRecorded:
        """Store the interactions whose content exists; report the positions of the rest."""
        known = await self.store.existing_content_ids([i.content_id for i in items])
        unknown = [n for n, i in enumerate(items) if i.content_id not in known]
        result = await self.writer.write([i for i in items if i.content_id in known])
        return BatchRecorded(result, unknown)
