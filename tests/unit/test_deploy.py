"""Deployment manifests parse and wire the roles as the code expects; Docker is not run here."""

from pathlib import Path
from typing import Any

import yaml

from contextiq.cache import open_cache
from contextiq.events import open_bus

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_compose_runs_every_role_with_health_checks() -> None:
    compose = _docs(DEPLOY / "compose.yaml")[0]
    services = compose["services"]
    assert {"postgres", "redis", "kafka", "migrate", "api", "worker"} <= services.keys()
    for name in ("postgres", "redis", "kafka", "api"):
        assert services[name]["healthcheck"]["test"], name
    assert services["api"]["command"] == ["serve"]
    assert services["worker"]["command"] == ["worker"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["api"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    env = services["api"]["environment"]
    assert env == services["worker"]["environment"]
    assert open_cache(env["CONTEXTIQ_CACHE_URL"]).backend == "redis"
    assert open_bus(env["CONTEXTIQ_EVENTS_URL"]).backend == "kafka"
    assert env["CONTEXTIQ_DATABASE_URL"].startswith("postgresql://")


def test_kustomization_lists_api_worker_migrations_and_model_volume() -> None:
    root = DEPLOY / "k8s"
    kustomization = _docs(root / "kustomization.yaml")[0]
    manifests = [d for f in kustomization["resources"] for d in _docs(root / f)]
    by_kind: dict[tuple[str, str], dict[str, Any]] = {
        (d["kind"], d["metadata"]["name"]): d for d in manifests
    }
    api = by_kind[("Deployment", "contextiq-api")]["spec"]["template"]["spec"]["containers"][0]
    assert api["args"] == ["serve"]
    assert api["readinessProbe"]["httpGet"]["path"] == "/api/v1/health"
    worker = by_kind[("Deployment", "contextiq-worker")]["spec"]["template"]["spec"]
    assert worker["containers"][0]["args"] == ["worker"]
    job = by_kind[("Job", "contextiq-migrate")]["spec"]["template"]["spec"]
    assert job["containers"][0]["args"] == ["migrate"]
    pvc = by_kind[("PersistentVolumeClaim", "contextiq-models")]
    assert "ReadWriteMany" in pvc["spec"]["accessModes"]
    config = by_kind[("ConfigMap", "contextiq")]["data"]
    assert config["CONTEXTIQ_MIGRATE_ON_START"] == "false"
    for container in (api, worker["containers"][0]):
        sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
        assert sources == {"contextiq"}
        assert container["volumeMounts"][0]["mountPath"] == "/data"
