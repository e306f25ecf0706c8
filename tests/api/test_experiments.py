"""Experiments end to end through the API: simulated users click by a hidden preference."""

import asyncio
import random
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contextiq.api.app import create_app
from contextiq.cli.bootstrap import train
from contextiq.config import Settings
from contextiq.ml.registry import ModelRegistry
from contextiq.store.experiments import ExperimentStore
from contextiq.store.store import Store

ADMIN = {"X-Admin-Key": "admin-secret"}


@pytest.fixture(scope="module")
def api(demo_settings: Settings) -> Iterator[TestClient]:
    settings = demo_settings.model_copy(
        update={"admin_key": "admin-secret", "experiment_min_impressions": 100}
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def wait_for(check: Any, what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def simulate(
    api: TestClient,
    name: str,
    click_rates: dict[str, float],
    users: int,
    seed: int,
    promote: bool = False,
) -> dict[str, Any]:
    """Each user asks once and may click one item; half the clicks name the answer's id."""
    rng = random.Random(seed)
    clicks = 0
    for n in range(users):
        user = f"{name}-u{n}"
        answer = api.get("/api/v1/recommendations", params={"user_id": user, "limit": 5}).json()
        assert answer["experiment"] == name
        if rng.random() < click_rates[answer["arm"]]:
            position = min(int(rng.expovariate(0.7)), len(answer["items"]) - 1)
            body = {
                "user_id": user,
                "content_id": answer["items"][position]["content_id"],
                "interaction_type": "view",
            }
            if rng.random() < 0.5:
                body["recommendation_id"] = answer["recommendation_id"]
            assert api.post("/api/v1/interact", json=body).status_code == 202
            clicks += 1

    def report() -> dict[str, Any]:
        body: dict[str, Any] = api.get(f"/api/v1/experiments/{name}").json()
        return body

    def applied() -> bool:
        arms = report()["arms"]
        return (
            sum(a["impressions"] for a in arms) == users
            and sum(a["clicks"] for a in arms) == clicks
        )

    wait_for(applied, f"{users} impressions and {clicks} clicks of {name}")
    result = report()
    stop = api.post(f"/api/v1/experiments/{name}/stop", json={"promote": promote}, headers=ADMIN)
    assert stop.status_code == 200, stop.text
    return result


def start(api: TestClient, name: str, arms: list[dict[str, Any]]) -> None:
    created = api.post("/api/v1/experiments", json={"name": name, "arms": arms}, headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "running"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_preferred_arm_wins_and_identical_arms_do_not(api: TestClient, seed: int) -> None:
    start(api, f"ab{seed}", [{"name": "control"}, {"name": "treatment"}])
    ab = simulate(api, f"ab{seed}", {"control": 0.06, "treatment": 0.22}, users=300, seed=seed)
    assert ab["winner"] == "treatment", ab["verdict"]
    control, treatment = ab["arms"]
    assert treatment["lift"] > 0 and treatment["lift_ci"][0] > 0
    assert treatment["p_value"] < 0.01
    assert control["ctr_ci"][0] <= control["ctr"] <= control["ctr_ci"][1]
    assert {"impressions", "clicks", "ctr", "ctr_ci", "lift", "p_value"} <= set(control)
    assert ab["srm_p_value"] > 0.001  # users split as the weights say

    start(api, f"aa{seed}", [{"name": "a"}, {"name": "b"}])
    aa = simulate(api, f"aa{seed}", {"a": 0.14, "b": 0.14}, users=300, seed=seed + 100)
    assert all(a["impressions"] >= 100 for a in aa["arms"])
    assert aa["winner"] is None, aa["verdict"]
    assert aa["verdict"].startswith("No significant difference")


def test_every_answer_is_an_impression_with_its_own_id(api: TestClient) -> None:
    params = {"user_id": "copies", "limit": 4}
    first = api.get("/api/v1/recommendations", params=params).json()
    second = api.get("/api/v1/recommendations", params=params).json()
    assert second["cached"] and first["recommendation_id"] != second["recommendation_id"]
    assert [i["position"] for i in second["items"]] == [1, 2, 3, 4]
    seen = {"recommendation_id": second["recommendation_id"], "user_id": "copies", "positions": [1]}
    assert api.post("/api/v1/impressions", json=seen).status_code == 202

    def counted() -> bool:
        groups = api.get("/api/v1/metrics/online", params={"by": "model_version"}).json()
        return sum(g["impressions"] for g in groups["groups"]) >= 2

    wait_for(counted, "both copies to count")
    by_day = api.get("/api/v1/metrics/online", params={"by": "day"}).json()["groups"][-1]
    assert by_day["ctr_ci"][0] <= by_day["ctr"] <= by_day["ctr_ci"][1]
    assert 0 < by_day["coverage"] <= 1
    bad = api.post("/api/v1/impressions", json=seen | {"positions": [0]})
    assert bad.status_code == 422


def test_experiments_are_admin_only_and_one_at_a_time(api: TestClient) -> None:
    arms = [{"name": "a"}, {"name": "b", "config": {"llm": False, "ml_weight": 0.9}}]
    body = {"name": "solo", "arms": arms}
    assert api.post("/api/v1/experiments", json=body).status_code == 401
    assert api.post("/api/v1/experiments", json=body, headers=ADMIN).status_code == 201
    clash = api.post("/api/v1/experiments", json=body | {"name": "other"}, headers=ADMIN)
    assert clash.status_code == 409 and "solo" in clash.json()["error"]["message"]
    unknown = {
        "name": "pinned",
        "arms": [{"name": "a", "config": {"model_version": "nope"}}, {"name": "b"}],
    }
    assert api.post("/api/v1/experiments", json=unknown, headers=ADMIN).status_code == 400
    # Ended at birth, it would keep a verdict on no data for good (0010_experiment_verdicts).
    window = {"starts_at": "2019-01-01T00:00:00Z", "ends_at": "2020-01-01T00:00:00Z"}
    ended = body | {"name": "ended"} | window
    refused_end = api.post("/api/v1/experiments", json=ended, headers=ADMIN)
    assert refused_end.status_code == 400 and "ends_at is past" in refused_end.text
    assert api.get("/api/v1/experiments/missing").status_code == 404
    # No winner yet: nothing to promote, and the experiment keeps running.
    refused = api.post("/api/v1/experiments/solo/stop", json={"promote": True}, headers=ADMIN)
    assert refused.status_code == 409
    stopped = api.post("/api/v1/experiments/solo/stop", headers=ADMIN).json()
    assert stopped["status"] == "finished" and stopped["winner"] is None
    again = api.post("/api/v1/experiments/solo/stop", json={"promote": True}, headers=ADMIN)
    assert again.status_code == 409
    listed = api.get("/api/v1/experiments").json()["experiments"]
    assert "solo" in [e["name"] for e in listed]
    answer = api.get("/api/v1/recommendations", params={"user_id": "after-solo"}).json()
    assert answer["experiment"] is None and answer["arm"] is None


def test_admin_times_that_leave_the_calendar_in_utc_are_422(api: TestClient) -> None:
    """Experiments and rules take times the same way as events: never a 500."""
    arms = [{"name": "a"}, {"name": "b"}]
    for field, moment in (
        ("starts_at", "0001-01-01T00:00:00+01:00"),
        ("ends_at", "9999-12-31T23:59:59-01:00"),
    ):
        experiment = {"name": "calendar", "arms": arms, field: moment}
        assert api.post("/api/v1/experiments", json=experiment, headers=ADMIN).status_code == 422
        rule = {
            "name": "calendar",
            "kind": "boost",
            "filter": 'category == "news"',
            "factor": 2,
            field: moment,
        }
        assert api.post("/api/v1/rules", json=rule, headers=ADMIN).status_code == 422


def test_interleaving_credits_the_arm_whose_items_are_clicked(api: TestClient) -> None:
    body = {
        "name": "interleaved",
        "interleaving": True,
        "arms": [{"name": "a"}, {"name": "b", "config": {"ml_weight": 0.2}}],
    }
    assert api.post("/api/v1/experiments", json=body, headers=ADMIN).status_code == 201
    rng = random.Random(9)
    for n in range(60):
        user = f"il-{n}"
        answer = api.get("/api/v1/recommendations", params={"user_id": user, "limit": 6}).json()
        assert answer["arm"] == "interleaved"
        # Whatever the lists, this user clicks the first item; its team gets the credit.
        first = answer["items"][0]["content_id"]
        click = {"user_id": user, "content_id": first, "interaction_type": "view"}
        if rng.random() < 0.5:
            click["recommendation_id"] = answer["recommendation_id"]
        api.post("/api/v1/interact", json=click)

    def decided() -> bool:
        arms = api.get("/api/v1/experiments/interleaved").json()["arms"]
        return sum(a["wins"] for a in arms) == 60

    wait_for(decided, "60 decided interleaved lists")
    report = api.get("/api/v1/experiments/interleaved").json()
    assert [a["impressions"] for a in report["arms"]] == [60, 60]
    assert [a["users"] for a in report["arms"]] == [60, 60]
    assert sum(a["clicks"] for a in report["arms"]) == 60
    assert report["winner"] is None  # 60 decided lists are below the minimum of 200
    api.post("/api/v1/experiments/interleaved/stop", headers=ADMIN)


def test_an_arm_pinning_a_damaged_model_version_is_refused_naming_it(
    api: TestClient, demo_settings: Settings
) -> None:
    versions = demo_settings.model_dir / "versions"
    active = (demo_settings.model_dir / "ACTIVE").read_text().strip()
    damaged = {"20000101T000000Z-badmeta0": "not JSON", "20000101T000000Z-nofiles0": "no files"}
    for name in damaged:
        shutil.copytree(versions / active, versions / name)
    (versions / "20000101T000000Z-badmeta0" / "meta.json").write_text("{not json")
    shutil.rmtree(versions / "20000101T000000Z-nofiles0" / "model")
    try:
        for name in damaged:
            arms = [{"name": "a"}, {"name": "b", "config": {"model_version": name}}]
            body = {"name": "pinned-damaged", "arms": arms}
            refused = api.post("/api/v1/experiments", json=body, headers=ADMIN)
            assert refused.status_code == 400, (damaged[name], refused.text)
            error = refused.json()["error"]
            assert error["code"] == "invalid_experiment"
            assert f"model version {name!r} cannot be loaded" in error["message"]
        listed = api.get("/api/v1/experiments").json()["experiments"]
        assert "pinned-damaged" not in {e["name"] for e in listed}
    finally:
        for name in damaged:
            shutil.rmtree(versions / name)


def test_a_winner_whose_model_version_cannot_be_loaded_is_not_promoted(
    api: TestClient, demo_settings: Settings
) -> None:
    """Old code made it active: running processes kept their model, each one started
    afterwards served none."""
    registry = ModelRegistry(demo_settings.model_dir)
    active = registry.active_version()
    assert active is not None
    versions, pinned = demo_settings.model_dir / "versions", "20000102T000000Z-winner00"
    shutil.copytree(versions / active, versions / pinned)
    arms = [{"name": "control"}, {"name": "next", "config": {"model_version": pinned}}]
    body = {"name": "damaged-winner", "arms": arms}
    assert api.post("/api/v1/experiments", json=body, headers=ADMIN).status_code == 201
    shutil.rmtree(versions / pinned / "model")  # damaged while the experiment ran

    async def next_wins() -> None:
        store = Store(demo_settings.database_url)
        try:
            await ExperimentStore(store).freeze("damaged-winner", "next", "next wins")
        finally:
            await store.close()

    asyncio.run(next_wins())
    try:
        stop = "/api/v1/experiments/damaged-winner/stop"
        refused = api.post(stop, json={"promote": True}, headers=ADMIN)
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "model_unloadable" and repr(pinned) in error["message"]
        assert registry.active_version() == active
        assert api.get("/api/v1/experiments/damaged-winner").json()["status"] == "running"
    finally:
        registry.promote(active)
        api.post("/api/v1/experiments/damaged-winner/stop", headers=ADMIN)
        shutil.rmtree(versions / pinned)


def test_an_arm_serves_a_model_family_and_promoting_it_makes_that_family_the_default(
    api: TestClient, demo_settings: Settings
) -> None:
    def create(config: dict[str, Any], name: str = "family-check") -> Any:
        arms = [{"name": "control"}, {"name": "next", "config": config}]
        return api.post("/api/v1/experiments", json={"name": name, "arms": arms}, headers=ADMIN)

    unknown = create({"model_family": "mystery"})
    assert unknown.status_code == 422 and "known: blend" in unknown.text
    assert create({"model_family": "ease", "model_version": "x"}).status_code == 422
    untrained = create({"model_family": "ease"})
    assert untrained.status_code == 400
    assert "contextiq train --family ease" in untrained.json()["error"]["message"]

    trained = asyncio.run(train(demo_settings, "ease"))  # as the CLI: a process of its own
    assert trained is not None and trained.status == "candidate"
    default = api.get("/api/v1/recommendations", params={"user_id": "user_001"}).json()
    assert default["model_version"] != trained.version
    assert create({"model_family": "ease"}).status_code == 201
    versions = {"control": default["model_version"], "next": trained.version}
    for n in range(20):
        answer = api.get("/api/v1/recommendations", params={"user_id": f"check-u{n}"}).json()
        assert answer["model_version"] == versions[answer["arm"]]
    api.post("/api/v1/experiments/family-check/stop", headers=ADMIN)

    assert create({"model_family": "ease"}, "family").status_code == 201
    report = simulate(api, "family", {"control": 0.06, "next": 0.3}, 300, seed=5, promote=True)
    assert report["winner"] == "next", report["verdict"]
    assert api.get("/api/v1/experiments/family").json()["promoted"] == {"model_family": "ease"}
    after = api.get("/api/v1/recommendations", params={"user_id": "after-family"}).json()
    assert after["experiment"] is None and after["model_version"] == trained.version
