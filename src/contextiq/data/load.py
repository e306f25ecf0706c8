"""Writing items and interactions to the store in bulk, a chunk at a time, with progress.

Imports and the demo seed both come through here: items by upsert, interactions by the
store's bulk loader (no outbox; stats folded once at the end; repeats skipped by event id).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from contextiq.domain import Content, Interaction
from contextiq.progress import Tracker
from contextiq.store.bulk import BulkLoader
from contextiq.store.store import Store

#: Rows per transaction: large enough that index pages are written a few times, not thousands.
INTERACTION_CHUNK = 100_000
CONTENT_CHUNK = 5_000


@dataclass(slots=True)
class LoadCounts:
    items: int = 0
    imported: int = 0
    duplicates: int = 0


async def load_items(
    store: Store, batches: Iterable[Sequence[Content]], tracker: Tracker, counts: LoadCounts
) -> None:
    for batch in batches:
        counts.items += await store.upsert_content(list({c.content_id: c for c in batch}.values()))
        tracker.advance(len(batch))


async def load_interactions(
    loader: BulkLoader,
    batches: Iterable[Sequence[Interaction]],
    tracker: Tracker,
    counts: LoadCounts,
) -> None:
    for batch in batches:
        new = await loader.add(batch)
        counts.imported += new
        counts.duplicates += len(batch) - new
        tracker.advance(len(batch))
