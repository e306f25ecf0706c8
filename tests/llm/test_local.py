"""The local provider with the real bundled MiniLM model."""

import asyncio
from dataclasses import replace

import pytest

from contextiq.cache.memory import MemoryCache
from contextiq.llm.base import Candidate, LikedItem, UserContext
from contextiq.llm.embedder import MiniLMEmbedder
from contextiq.llm.local import LocalScorer
from contextiq.llm.service import ScoringPolicy, ScoringService
from tests.llm.scenario import CANDIDATES, CLEAN, INJECTED, INJECTED_TEXT, ROMANCE, SCIFI, USER

#: How far an injected item may move above its clean twin before we call it a gain.
NOISE = 0.02


@pytest.fixture
def scorer(minilm: MiniLMEmbedder) -> LocalScorer:
    return LocalScorer(embedder_factory=lambda: minilm)


def test_vectors_are_unit_length_and_similar_texts_are_close(minilm: MiniLMEmbedder) -> None:
    vectors = minilm.embed(["A space horror film", "A horror movie set in space", "Tax law"])
    norms = (vectors**2).sum(axis=1)
    assert norms == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_loading_the_model_writes_no_progress_bar(capfd: pytest.CaptureFixture[str]) -> None:
    # Old code let transformers draw "Loading weights: 100%|███| 103/103" on stderr, a line
    # among the JSON logs of the import, the worker and serve that no log collector parses.
    MiniLMEmbedder()
    assert "Loading weights" not in capfd.readouterr().err


async def test_scores_follow_the_users_taste(scorer: LocalScorer) -> None:
    scores = await scorer.score(USER, CANDIDATES)
    assert set(scores) == {c.content_id for c in CANDIDATES}
    assert all(0.0 <= s.score <= 1.0 for s in scores.values())
    assert scores[SCIFI.content_id].score > scores[ROMANCE.content_id].score
    assert scores[SCIFI.content_id].reason.startswith("close in theme to ")


async def test_each_item_is_embedded_once(scorer: LocalScorer) -> None:
    await scorer.score(USER, CANDIDATES)
    first = scorer.embedded_count
    assert first == len(USER.recent) + len(CANDIDATES)
    other = UserContext("u2", USER.recent[:1])
    await scorer.score(other, CANDIDATES)
    assert scorer.embedded_count == first


async def test_edited_content_is_embedded_again(scorer: LocalScorer) -> None:
    await scorer.score(USER, [SCIFI])
    before = scorer.embedded_count
    await scorer.score(USER, [replace(SCIFI, description="A new synopsis.")])
    assert scorer.embedded_count == before + 1


TWINS = [
    (USER, CLEAN),
    (USER, SCIFI),
    (UserContext("u3", (LikedItem("Notting Hill", "romance", ("london",)),)), ROMANCE),
    (UserContext("u4", (LikedItem("Heat", "crime", ("heist",)),)), SCIFI),
]


@pytest.mark.parametrize(("user", "item"), TWINS)
async def test_injected_instructions_do_not_raise_the_score(
    scorer: LocalScorer, user: UserContext, item: Candidate
) -> None:
    injected = Candidate(
        "twin", item.title, item.category, item.tags, f"{item.description} {INJECTED_TEXT}"
    )
    scores = await scorer.score(user, [item, injected])
    assert scores["twin"].score <= scores[item.content_id].score + NOISE


async def test_the_shared_scenario_item_gains_nothing(scorer: LocalScorer) -> None:
    scores = await scorer.score(USER, [CLEAN, INJECTED])
    assert scores[INJECTED.content_id].score <= scores[CLEAN.content_id].score + NOISE


async def test_no_history_means_no_scores(scorer: LocalScorer) -> None:
    assert await scorer.score(UserContext("new", ()), CANDIDATES) == {}
    dislikes_only = UserContext("sour", (LikedItem("Alien", "scifi", weight=-1.0),))
    assert await scorer.score(dislikes_only, CANDIDATES) == {}


async def test_model_runs_off_the_event_loop(scorer: LocalScorer) -> None:
    """While the model works, the loop keeps serving other coroutines."""
    many = [replace(SCIFI, content_id=f"c{i}", title=f"Film number {i}") for i in range(300)]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticking = asyncio.create_task(ticker())
    await scorer.score(USER, many)
    ticking.cancel()
    assert ticks > 10


async def test_service_precomputes_for_the_request_path(scorer: LocalScorer) -> None:
    service = ScoringService(scorer, MemoryCache(), ScoringPolicy(batch_size=1_000))
    await service.warm_up()
    computed = await service.precompute(USER, CANDIDATES)
    embedded = scorer.embedded_count
    served = await service.score_within_budget(USER, CANDIDATES, budget_ms=0)
    assert served == computed
    assert scorer.embedded_count == embedded
    assert service.health().state == "ok"
    await service.close()


async def test_a_liked_item_edited_misses_the_score_cache(scorer: LocalScorer) -> None:
    """The local model reads a liked item's description (`?ttl=` keeps its scores): scores
    for the old text must not be served for the new one."""
    service = ScoringService(scorer, MemoryCache(), ScoringPolicy(batch_size=1_000))
    liked = LikedItem("Alien", "scifi", ("space",), description="A crew hunted in deep space.")
    before = UserContext("u1", (liked,))
    edited = UserContext("u1", (replace(liked, description="A cookbook of Italian pasta."),))
    await service.precompute(before, CANDIDATES)
    assert await service.precompute(edited, CANDIDATES) == await scorer.score(edited, CANDIDATES)
    await service.close()
