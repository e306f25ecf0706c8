"""Item vectors stored in the database: computed once per text, read by the local scorer."""

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contextiq.api.app import create_app
from contextiq.cache.memory import MemoryCache
from contextiq.catalog.service import CatalogService
from contextiq.cli.bootstrap import bootstrap
from contextiq.domain import Content
from contextiq.llm import item_vectors
from contextiq.llm.base import Candidate, LikedItem, UserContext
from contextiq.llm.embedder import MiniLMEmbedder
from contextiq.llm.item_vectors import ItemVectors, content_text
from contextiq.llm.local import CATEGORY_REASON, LocalScorer
from contextiq.recommend.filters import FilterColumns
from contextiq.recommend.models import ModelHolder
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store
from tests.conftest import embedded_settings

ITEMS = [
    Content("scifi", "Alien", "scifi", "A crew meets a creature in deep space.", ("space",)),
    Content("romance", "Notting Hill", "romance", "A bookseller falls in love.", ("london",)),
    Content("heist", "Heat", "crime", "Thieves and a detective in Los Angeles.", ("heist",)),
]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'vectors.db'}"
    await upgrade_async(url)
    s = Store(url)
    await s.upsert_content(ITEMS)
    yield s
    await s.close()


async def test_vectors_are_stored_once_per_text(store: Store, minilm: MiniLMEmbedder) -> None:
    vectors = ItemVectors(store, lambda: minilm)
    assert await vectors.index(ITEMS) == 3
    assert await vectors.index(ITEMS) == 0  # unchanged texts are not embedded again
    edited = replace(ITEMS[0], description="A new synopsis.")
    assert await vectors.index([edited]) == 1
    stored = await vectors.get(["scifi", "romance", "unknown"])
    assert set(stored) == {"scifi", "romance"}
    assert stored["scifi"] == pytest.approx(minilm.embed([content_text(edited)])[0], abs=1e-6)
    await vectors.close()


async def test_the_scorer_reads_stored_vectors_instead_of_running_the_model(
    store: Store, minilm: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors = ItemVectors(store, lambda: minilm)
    await vectors.index(ITEMS)
    with_vectors = LocalScorer(vectors=vectors)
    without = LocalScorer(embedder_factory=lambda: minilm)
    liked = ITEMS[0]
    user = UserContext(
        "u1",
        (
            LikedItem(
                liked.title,
                liked.category,
                liked.tags,
                content_id=liked.content_id,
                description=liked.description,
            ),
        ),
    )
    candidates = [
        Candidate(c.content_id, c.title, c.category, c.tags, c.description) for c in ITEMS[1:]
    ]
    stored = await with_vectors.score(user, candidates)
    assert with_vectors.embedded_count == 0  # no model work on the request path
    fresh = await without.score(user, candidates)
    for cid, score in fresh.items():
        assert stored[cid].score == pytest.approx(score.score, abs=1e-5)
    # an item without a stored vector is never embedded on the request: no score at first,
    # then its category's mean vector once the means are loaded (at start), said in its reason
    newcomer = Candidate("new", "Arrival", "scifi", ("aliens",), "Linguists meet visitors.")
    assert "new" not in await with_vectors.score(user, [*candidates, newcomer])
    await with_vectors.warm_up()
    assert set(vectors.category_means) == {"scifi", "romance", "crime"}
    scored = await with_vectors.score(user, [*candidates, newcomer])
    assert scored["new"].reason.startswith(CATEGORY_REASON)
    assert scored["romance"].score == pytest.approx(stored["romance"].score, abs=1e-6)
    unknown = replace(newcomer, content_id="other", category="documentary")
    assert "other" not in await with_vectors.score(user, [*candidates, unknown])
    # once a documentary has a vector, the means are read again (here at once: no wait)
    documentary = Content("doc", "Planet", "documentary", "Whales and ice.", ())
    await store.upsert_content([documentary])
    await vectors.index([documentary])
    monkeypatch.setattr(item_vectors, "MEANS_REFRESH_SECONDS", 0.0)
    await with_vectors.score(user, [*candidates, unknown])
    for _ in range(100):
        if "documentary" in vectors.category_means:
            break
        await asyncio.sleep(0.05)
    assert "other" in await with_vectors.score(user, [*candidates, unknown])
    assert with_vectors.embedded_count == 0
    await with_vectors.close()
    await without.close()


async def test_catalogue_upserts_compute_vectors_in_the_background(
    store: Store, minilm: MiniLMEmbedder, tmp_path: Path
) -> None:
    vectors = ItemVectors(store, lambda: minilm)
    catalog = CatalogService(
        store,
        ModelHolder(tmp_path / "models", store),
        RecommendationCache(MemoryCache(), 60),
        FilterColumns(store),
        vectors,
    )
    item = Content("late", "Arrival", "scifi", "Linguists meet visitors.", ("aliens",))
    assert await catalog.upsert([item]) == 1
    await vectors.drain()
    assert set(await vectors.get(["late"])) == {"late"}
    await store.delete_content("late")
    assert await vectors.get(["late"]) == {}
    await vectors.close()


def test_a_users_first_uncached_answer_carries_language_model_scores(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path, llm_url="local://", cache_ttl_seconds=0)
    bootstrap(settings, lambda _: None, demo_items=120, demo_users=30)
    with TestClient(create_app(settings)) as client:
        for user in ("user_001", "user_002", "user_003"):
            body = client.get("/api/v1/recommendations", params={"user_id": user}).json()
            assert body["personalized"] and not body["cached"]
            assert all(i["llm_score"] is not None for i in body["items"]), body["items"]
        scorer = client.app.state.services.rescorer.scorer  # type: ignore[attr-defined]
        assert isinstance(scorer, LocalScorer) and scorer.embedded_count == 0  # all stored


async def test_a_bounded_run_leaves_the_rest_to_the_workers_background_duty(
    store: Store, minilm: MiniLMEmbedder
) -> None:
    vectors = ItemVectors(store, lambda: minilm)
    assert await vectors.complete(deadline=time.monotonic()) == (0, len(ITEMS))  # out of time
    assert await vectors.get([i.content_id for i in ITEMS]) == {}
    await vectors.backfill()  # what the worker runs when it starts
    assert set(await vectors.get([i.content_id for i in ITEMS])) == {i.content_id for i in ITEMS}
    assert await vectors.complete() == (0, 0)  # resumable: nothing left to do
    await vectors.close()


async def test_in_serving_processes_the_model_thread_yields_to_requests(store: Store) -> None:
    def policy() -> int:
        return os.sched_getscheduler(threading.get_native_id())

    loop = asyncio.get_running_loop()
    served, foreground = ItemVectors(store, background=True), ItemVectors(store)
    assert await loop.run_in_executor(served.executor, policy) == os.SCHED_IDLE
    assert await loop.run_in_executor(foreground.executor, policy) == policy()
    await served.close()
    await foreground.close()


async def test_the_background_backfill_waits_for_quiet_before_every_batch(
    store: Store, minilm: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[int] = []

    class Load:
        async def wait_until_quiet(self) -> None:
            waits.append(len(await vectors.get([i.content_id for i in ITEMS])))

    monkeypatch.setattr(item_vectors, "ForegroundLoad", Load)
    vectors = ItemVectors(store, lambda: minilm, background=True)
    await vectors.backfill(batch=1)
    # Before each item but the first, whose step loads the model at once (while starting).
    assert waits == list(range(1, len(ITEMS)))
    await vectors.close()
