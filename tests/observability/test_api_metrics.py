"""`GET /metrics` of a real embedded deployment after traffic, and the request-id header."""

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from contextiq.api.app import create_app
from contextiq.cli.bootstrap import bootstrap
from tests.conftest import embedded_settings
from tests.observability.scrape import value


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = embedded_settings(tmp_path_factory.mktemp("metrics"), metrics_sample_seconds=0.05)
    bootstrap(settings, lambda _: None, demo_items=150, demo_users=30)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _metrics(client: TestClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def _eventually(client: TestClient, check: "object", timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = _metrics(client)
        if check(text):  # type: ignore[operator]
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"metrics never satisfied the check:\n{text}")
        time.sleep(0.05)


def test_request_durations_are_labelled_by_route_template_and_status(client: TestClient) -> None:
    before = _metrics(client)
    for user in ("user_001", "user_002", "user_003"):
        client.get(f"/api/v1/user-profile/{user}")
    client.get("/api/v1/content/no-such-item")
    after = _metrics(client)
    name = "contextiq_http_request_duration_seconds_count"
    route = "/api/v1/user-profile/{user_id}"
    labels = {"method": "GET", "route": route, "status": "200"}
    assert value(after, name, **labels) - value(before, name, **labels) == 3
    missing = {"route": "/api/v1/content/{content_id}", "status": "404"}
    assert value(after, name, **missing) - value(before, name, **missing) == 1
    assert 'route="/api/v1/user-profile/user_001"' not in after  # templates, not raw paths


def test_scrapes_are_counted_under_their_own_route(client: TestClient) -> None:
    # Not as "unmatched", the label of paths no route serves (404 probes, scanners).
    _metrics(client)
    labels = {"route": "/metrics", "status": "200"}
    assert value(_metrics(client), "contextiq_http_request_duration_seconds_count", **labels) >= 1


def test_cache_hits_and_misses_are_counted(client: TestClient) -> None:
    before = _metrics(client)
    params = {"user_id": "user_004", "limit": 5}
    assert client.get("/api/v1/recommendations", params=params).json()["cached"] is False
    assert client.get("/api/v1/recommendations", params=params).json()["cached"] is True
    after = _metrics(client)
    for result in ("hit", "miss"):
        delta = value(after, "contextiq_cache_lookups_total", result=result) - value(
            before, "contextiq_cache_lookups_total", result=result
        )
        assert delta == 1, result


def test_events_outbox_and_model_are_reported(client: TestClient) -> None:
    before = _metrics(client)
    event = {"user_id": "user_005", "content_id": "content_0003", "interaction_type": "like"}
    assert client.post("/api/v1/interact", json=event).status_code in (200, 201, 202)
    applied = value(before, "contextiq_events_applied_total", type="interaction")
    text = _eventually(
        client,
        lambda t: value(t, "contextiq_events_applied_total", type="interaction") == applied + 1,
    )
    assert value(text, "contextiq_outbox_published_total") >= 1
    # The sampler reads the database and the served model every 50 ms here.
    text = _eventually(client, lambda t: "contextiq_model_info{" in t)
    version = client.get("/api/v1/models").json()["active"]["version"]
    assert value(text, "contextiq_model_info", version=version) == 1
    assert value(text, "contextiq_outbox_pending_rows") >= 0
    assert value(text, "contextiq_outbox_lag_seconds") >= 0
    assert "contextiq_outbox_lag_seconds" in text
    assert value(text, "contextiq_model_training_seconds") > 0
    offline = [line for line in text.splitlines() if line.startswith("contextiq_model_offline")]
    assert offline, "the promoted model's held-out metrics are exported"


def test_metrics_are_not_part_of_the_api_schema(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    generated = client.get("/api/v1/health").headers["x-request-id"]
    assert len(generated) == 32
    echoed = client.get("/api/v1/health", headers={"X-Request-ID": "edge-1234.abc"})
    assert echoed.headers["x-request-id"] == "edge-1234.abc"
    # Anything that is not a plain token is replaced, never echoed into logs and headers.
    odd = client.get("/api/v1/health", headers={"X-Request-ID": "x" * 200})
    assert odd.headers["x-request-id"] != "x" * 200
    missing = client.get("/api/v1/content/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["x-request-id"]


def test_every_series_the_alerts_and_dashboard_read_is_scraped(client: TestClient) -> None:
    """Present from the start, not from a first timeout or failed training: rate() counts
    nothing for the step from absent to 1. Consumer lag comes from Kafka consumers only, and
    this deployment scores with ML alone (the language-model series: tests/llm)."""
    event = {"user_id": "user_006", "content_id": "content_0004", "interaction_type": "view"}
    client.post("/api/v1/interact", json=event)
    monitoring = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
    rules = yaml.safe_load((monitoring / "alerts.yaml").read_text())["groups"]
    panels = json.loads((monitoring / "grafana-dashboard.json").read_text())["panels"]
    queries = [r["expr"] for g in rules for r in g["rules"]]
    queries += [t["expr"] for p in panels for t in p["targets"]]
    wanted = {
        name
        for name in re.findall(r"\bcontextiq_[a-z_]+\b", " ".join(queries))
        if name != "contextiq_consumer_lag_messages" and not name.startswith("contextiq_llm_")
    }

    def scraped(text: str) -> set[str]:
        return {s.name for family in text_string_to_metric_families(text) for s in family.samples}

    text = _eventually(client, lambda t: wanted <= scraped(t))
    assert wanted <= scraped(text)
