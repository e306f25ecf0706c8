"""Item vectors for `local://`, embedded when content is imported or upserted, read by requests.

Embedding an item's text costs ~15-30 ms of CPU, far too much for a request that scores twenty
candidates within 250 ms. So vectors are computed off the request path (by `contextiq import`,
`contextiq vectors`, and in the background after `PUT /content`) and kept in the
`item_vectors` table, where every process and replica reads them. A request then does one
indexed query and a few dot products, and never runs the model: an item without a stored
vector (still queued, or beyond what the backfill reached) takes its category's mean vector,
a coarse stand-in computed once per process from the stored vectors (`category_means`).
The model runs on one thread per process; in serving processes and the worker it yields the
machine to requests (`llm/background.py`).
"""

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from hashlib import blake2b
from types import TracebackType
from typing import Self

import numpy as np

from contextiq.domain import Content
from contextiq.llm.background import ForegroundLoad, lower_priority
from contextiq.llm.embedder import MiniLMEmbedder, Vectors
from contextiq.progress import Tracker
from contextiq.store.store import Store

log = logging.getLogger(__name__)

MODEL = "all-MiniLM-L6-v2"
MAX_DESCRIPTION_CHARS = 400
#: Items embedded and stored per step: progress is saved this often.
INDEX_BATCH = 256
#: Items per step of the worker's background completion (a few tenths of a second each).
BACKFILL_BATCH = 32
#: Seconds between the background completion's progress lines.
PROGRESS_SECONDS = 60.0
#: A category without a mean (none of its items had a vector) is looked for again this often.
MEANS_REFRESH_SECONDS = 300.0


def item_text(title: str, category: str, tags: Sequence[str], description: str = "") -> str:
    """The text embedded for an item; stored vectors and on-the-spot ones share it."""
    parts = [title.strip(), f"Category: {category.strip()}."]
    if tags:
        parts.append("Tags: " + ", ".join(t.strip() for t in tags) + ".")
    if description:
        parts.append(description.strip()[:MAX_DESCRIPTION_CHARS])
    return " ".join(parts)


def content_text(item: Content) -> str:
    return item_text(item.title, item.category, item.tags, item.description)


def text_digest(text: str) -> str:
    return blake2b(f"{MODEL}\0{text}".encode(), digest_size=16).hexdigest()


class ItemVectors:
    """Stored vectors, and the one model thread of this process that computes them."""

    def __init__(
        self,
        store: Store,
        embedder_factory: Callable[[], MiniLMEmbedder] = MiniLMEmbedder,
        background: bool = False,
    ) -> None:
        """`background`: the model yields to requests (a serving process, the worker): its
        thread at the idle priority, the backfill paused while requests keep the machine busy."""
        self.store = store
        self.background = background
        self.model = MODEL
        self._factory = embedder_factory
        self._embedder: MiniLMEmbedder | None = None
        self.executor = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="contextiq-local",
            initializer=lower_priority if background else None,
        )
        self._queued: set[asyncio.Task[int]] = set()
        #: Unit-length mean vector per category, from the stored vectors (`load_category_means`).
        self.category_means: dict[str, Vectors] = {}
        self._means_read_at = -MEANS_REFRESH_SECONDS
        self._means_task: asyncio.Task[int] | None = None

    def embedder(self) -> MiniLMEmbedder:
        """The model, loaded on first use; call it on `executor` only."""
        if self._embedder is None:
            self._embedder = self._factory()
        return self._embedder

    async def get(self, content_ids: Sequence[str]) -> dict[str, Vectors]:
        """Stored vectors by content id; ids without one are absent."""
        rows = await self.store.item_vectors(content_ids, self.model)
        return {cid: np.frombuffer(raw, dtype="<f4") for cid, raw in rows.items()}

    async def load_category_means(self) -> int:
        """Each category's mean stored vector: the stand-in for its items without one.

        Read once per process at start (a stream over the stored vectors, a second or two at
        100,000 items); returns how many vectors went into them.
        """
        self._means_read_at = time.monotonic()
        sums: dict[str, Vectors] = {}
        count = 0
        async for category, raw in self.store.item_vectors_by_category(self.model):
            vector = np.frombuffer(raw, dtype="<f4")
            if category in sums:
                sums[category] += vector
            else:
                sums[category] = vector.astype(np.float32)
            count += 1
        self.category_means = {
            c: (v / max(float(np.linalg.norm(v)), 1e-9)).astype(np.float32) for c, v in sums.items()
        }
        return count

    def refresh_means_soon(self) -> None:
        """Read the means again in the background, at most every `MEANS_REFRESH_SECONDS`.

        For a request that met a category without one: vectors stored since the last read
        (the backfill, an upsert) may give it one now.
        """
        if self._means_task is not None:
            return
        if time.monotonic() - self._means_read_at < MEANS_REFRESH_SECONDS:
            return
        self._means_task = asyncio.create_task(self._reload_means(), name="category-means")

    async def _reload_means(self) -> int:
        try:
            return await self.load_category_means()
        except Exception as exc:  # the database hiccuped: the old means serve on
            log.warning("category means not refreshed: %s", exc)
            return 0
        finally:
            self._means_task = None

    async def complete(
        self,
        deadline: float | None = None,
        tracker: Tracker | None = None,
        batch: int = INDEX_BATCH,
        load: ForegroundLoad | None = None,
    ) -> tuple[int, int]:
        """Embed every item without a current vector, most popular first; stops at `deadline`.

        `deadline` is a `time.monotonic()` moment after which no new batch starts. Resumable:
        stored vectors are kept and skipped next time. Returns (vectors computed, items not
        reached before the deadline).
        """
        ids = [i for i, _ in await self.store.popularity_ranking()]
        done = 0
        for start in range(0, len(ids), batch):
            if deadline is not None and time.monotonic() >= deadline:
                return done, len(ids) - start
            chunk = ids[start : start + batch]
            found = await self.store.get_contents(chunk)
            done += await self.index([found[i] for i in chunk if i in found], tracker, batch, load)
        return done, 0

    async def backfill(self, batch: int = BACKFILL_BATCH) -> None:
        """The worker's duty: complete missing vectors in the background, progress logged.

        Small batches, so an upsert's items wait little for the one model thread; in the
        background, no step starts while requests keep the machine busy (`background`).
        """
        started = time.monotonic()
        with _LoggedProgress(len(await self.store.content_ids())) as progress:
            load = ForegroundLoad() if self.background else None
            done, _ = await self.complete(tracker=progress, batch=batch, load=load)
        if done:
            log.info(
                "item vectors: %d computed in the background in %.0fs",
                done,
                time.monotonic() - started,
            )

    async def index(
        self,
        items: Sequence[Content],
        tracker: Tracker | None = None,
        batch: int = INDEX_BATCH,
        load: ForegroundLoad | None = None,
    ) -> int:
        """Embed and store the items whose text has no stored vector yet; returns how many.

        With `load`, each step of model work waits until the foreground is quiet, except the
        one that loads the model: its imports take seconds of CPU, better spent while the
        process starts than under the traffic that follows (docs/benchmarks.md).
        """
        texts = {c.content_id: content_text(c) for c in items}
        digests = {cid: text_digest(t) for cid, t in texts.items()}
        stored = await self.store.item_vector_digests(list(texts), self.model)
        todo = [cid for cid, d in digests.items() if stored.get(cid) != d]
        if tracker is not None:
            tracker.advance(len(texts) - len(todo))
        loop = asyncio.get_running_loop()
        for start in range(0, len(todo), batch):
            step = todo[start : start + batch]
            unique = list(dict.fromkeys(texts[cid] for cid in step))
            if load is not None and self._embedder is not None:
                await load.wait_until_quiet()
            vectors = await loop.run_in_executor(self.executor, self._embed, unique)
            by_text = dict(zip(unique, vectors, strict=True))
            await self.store.put_item_vectors(
                self.model,
                [(cid, digests[cid], by_text[texts[cid]].astype("<f4").tobytes()) for cid in step],
            )
            if tracker is not None:
                tracker.advance(len(step))
        return len(todo)

    def _embed(self, texts: Sequence[str]) -> Vectors:
        return self.embedder().embed(texts)

    def index_soon(self, items: Sequence[Content]) -> None:
        """Queue `index` in the background (catalogue upserts must not wait on the model)."""
        task = asyncio.create_task(self._index_logged(list(items)), name="item-vectors")
        self._queued.add(task)
        task.add_done_callback(self._queued.discard)

    async def _index_logged(self, items: list[Content]) -> int:
        try:
            return await self.index(items)
        except Exception as exc:  # requests score such items by their category meanwhile
            log.warning("item vectors for %d items failed: %s", len(items), exc)
            return 0

    async def drain(self) -> None:
        """Wait for queued indexing (tests, and a clean shutdown)."""
        while self._queued:
            await asyncio.gather(*list(self._queued), return_exceptions=True)

    async def close(self) -> None:
        if self._means_task is not None:
            self._means_task.cancel()
        for task in list(self._queued):
            task.cancel()
        await asyncio.gather(*list(self._queued), return_exceptions=True)
        self.executor.shutdown(wait=False, cancel_futures=True)


class _LoggedProgress:
    """A `Tracker` that logs a line a minute: the background completion has no terminal."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.checked = 0
        self._started = self._said = time.monotonic()

    def advance(self, n: int) -> None:
        self.checked += n
        now = time.monotonic()
        if now - self._said >= PROGRESS_SECONDS:
            self._said = now
            self._log(now)

    def _log(self, now: float) -> None:
        rate = self.checked / max(now - self._started, 1e-9)
        log.info(
            "item vectors: %d of %d items have one (%.1f items/s)", self.checked, self.total, rate
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            self._log(time.monotonic())
