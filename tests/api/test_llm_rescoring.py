"""Recommendations rescored by the real local language model and blended."""

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contextiq.api.app import create_app
from contextiq.cli.bootstrap import bootstrap
from tests.conftest import embedded_settings


@pytest.fixture(scope="module")
def llm_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root: Path = tmp_path_factory.mktemp("llm")
    # A generous budget makes the first request wait for the model, so the test is deterministic.
    # `ttl`: local:// keeps no scores by default; kept, precomputing them pays (the last test).
    settings = embedded_settings(
        root, llm_url="local://?ttl=3600", llm_budget_ms=60_000, llm_top_k=10
    )
    bootstrap(settings, lambda _: None, demo_items=120, demo_users=20)
    with TestClient(create_app(settings)) as client:
        yield client


def test_top_candidates_are_blended_with_language_model_scores(llm_client: TestClient) -> None:
    body = llm_client.get(
        "/api/v1/recommendations", params={"user_id": "user_001", "limit": 10}
    ).json()
    assert body["llm_provider"].startswith("local:")
    rescored = [i for i in body["items"] if i["llm_score"] is not None]
    assert rescored
    for item in rescored:
        assert 0.0 <= item["llm_score"] <= 1.0
        assert item["score"] == pytest.approx(
            0.6 * item["ml_score"] + 0.4 * item["llm_score"], abs=2e-4
        )
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_health_shows_the_scorer(llm_client: TestClient) -> None:
    llm_client.get("/api/v1/recommendations", params={"user_id": "user_002"})
    llm = llm_client.get("/api/v1/health").json()["dependencies"]["llm"]
    assert llm["backend"].startswith("local:")
    assert llm["status"] == "ok"


def test_precomputed_scores_are_served_without_waiting(llm_client: TestClient) -> None:
    services = llm_client.app.state.services  # type: ignore[attr-defined]
    services.rescorer.policy = replace(services.rescorer.policy, budget_ms=0)
    assert llm_client.portal is not None
    assert llm_client.portal.call(services.recommendations.precompute_llm, "user_004") > 0
    body = llm_client.get("/api/v1/recommendations", params={"user_id": "user_004"}).json()
    assert body["cached"] is False
    assert any(i["llm_score"] is not None for i in body["items"])
