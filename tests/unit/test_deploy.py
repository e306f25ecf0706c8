"""Deployment files, checked offline as a cluster, Compose, hadolint and GitHub would check them.

Kubernetes manifests are rendered with `kubectl kustomize` (base, each overlay, the KRaft
Kafka) and every object is validated strictly against the Kubernetes schemas
(kubernetes-validate); Compose and the workflow against their published schemas
(check-jsonschema); the Dockerfile with hadolint; ECS task definitions against the ECS API
model botocore ships. Docker itself is not run here.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import botocore.session
import kubernetes_validate
import pytest
import yaml
from botocore.validate import ParamValidator
from prometheus_client.metrics import MetricWrapperBase

from contextiq.api.routers.health import PROBE_SECONDS
from contextiq.cache import open_cache
from contextiq.cli import TRAINING_BUSY, TRAINING_REFUSED
from contextiq.config import ENV_PREFIX, Settings
from contextiq.events import open_bus
from contextiq.observability import metrics
from contextiq.observability.heartbeat import STALE_AFTER_SECONDS
from contextiq.store.engine import POSTGRES_MAX_OVERFLOW, POSTGRES_POOL_SIZE

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
RENDERED = ["base", "overlays/dev", "overlays/prod", "kafka/kraft"]
#: The oldest release the manifests support (podFailurePolicy is on by default since 1.26;
#: the preStop hook is an exec, not the `sleep` action of 1.30), one between, the latest.
KUBERNETES_VERSIONS = ["1.27.0", "1.30.0", kubernetes_validate.latest_version()]


def _tool(name: str) -> str:
    """A checker from the virtual environment (pip-installed) or the system; CI must have it."""
    found = shutil.which(
        name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )
    if found is None:
        message = (
            f"{name} is not installed (pip install -e '.[dev]'; kubectl from your distribution)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@cache
def _render(target: str) -> tuple[dict[str, Any], ...]:
    out = _run(_tool("kubectl"), "kustomize", str(K8S / target))
    return tuple(d for d in yaml.safe_load_all(out) if d)


def _by_kind(target: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in _render(target)}


def _pod(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: dict[str, Any] = spec["template"]
    return template


# -- Kubernetes -------------------------------------------------------------------------------


@pytest.mark.parametrize("target", RENDERED)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_rendered_manifests_are_valid_kubernetes(target: str, version: str) -> None:
    rendered = _render(target)
    assert rendered
    for obj in rendered:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("target", ["base", "overlays/dev", "overlays/prod"])
def test_every_role_runs_from_the_one_image_with_its_config(target: str) -> None:
    objs = _by_kind(target)
    roles = {
        ("Deployment", "contextiq-api"): ["serve"],
        ("Deployment", "contextiq-worker"): ["worker"],
        ("Job", "contextiq-migrate"): ["migrate"],
        ("CronJob", "contextiq-retrain"): ["train", "--wait", "3600"],
        ("CronJob", "contextiq-prune-models"): ["models", "prune", "--keep", "10"],
    }
    config = next(name for kind, name in objs if kind == "ConfigMap")
    data = objs[("ConfigMap", config)]["data"]
    assert data["CONTEXTIQ_MIGRATE_ON_START"] == "false"
    assert open_cache(data["CONTEXTIQ_CACHE_URL"]).backend == "redis"
    assert open_bus(data["CONTEXTIQ_EVENTS_URL"]).backend == "kafka"
    images = set()
    for key, args in roles.items():
        pod = _pod(objs[key])
        container = pod["spec"]["containers"][0]
        assert container["args"] == args
        images.add(container["image"])
        assert {s["configMapRef"]["name"] for s in container["envFrom"] if "configMapRef" in s} == {
            config
        }
        assert {s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s} == {
            "contextiq"
        }
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        # Every Context IQ pod may reach the data stores; nothing else may.
        assert pod["metadata"]["labels"]["contextiq.io/datastore-client"] == "true"
    assert len(images) == 1
    assert objs[("CronJob", "contextiq-retrain")]["spec"]["suspend"] is True
    assert (
        "ReadWriteMany"
        in objs[("PersistentVolumeClaim", "contextiq-models")]["spec"]["accessModes"]
    )


@pytest.mark.parametrize("target", ["base", "overlays/dev", "overlays/prod"])
def test_a_stopping_api_pod_serves_until_it_left_the_endpoints(target: str) -> None:
    pod = _pod(_by_kind(target)[("Deployment", "contextiq-api")])["spec"]
    sleep, seconds = pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep == "sleep"
    # The image runs on Debian, whose coreutils (an essential package) has /bin/sleep.
    assert re.findall(r"^FROM (\S+)", (DEPLOY / "Dockerfile").read_text(), re.M)[-1].endswith(
        "-slim-bookworm"
    )
    wait = int(seconds)
    assert wait >= 5
    assert pod["terminationGracePeriodSeconds"] >= wait + 15  # then in-flight requests


#: A health check's command: `urlopen(<the API's health URL>, timeout=SECONDS)`.
_HEALTH_CHECK = re.compile(r"urlopen\('http://127\.0\.0\.1:8000/api/v1/health', timeout=([\d.]+)\)")


@pytest.mark.parametrize("target", ["base", "overlays/dev", "overlays/prod"])
def test_api_liveness_asks_the_event_loop_not_the_port(target: str) -> None:
    """Old manifests probed the port (TCP): it passes while the event loop stands still."""
    container = _pod(_by_kind(target)[("Deployment", "contextiq-api")])["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/api/v1/health/live"


@pytest.mark.parametrize("target", ["base", "overlays/dev", "overlays/prod"])
def test_worker_liveness_asks_its_event_loop_not_its_port(target: str) -> None:
    """The worker's port is served by a thread: over TCP it answers while the loop is stuck."""
    pod = _pod(_by_kind(target)[("Deployment", "contextiq-worker")])["spec"]
    probe = pod["containers"][0]["livenessProbe"]
    assert probe["httpGet"] == {"path": "/live", "port": "metrics"}
    # a probe fails once the loop went silent for STALE_AFTER_SECONDS; give it a few more tries
    assert probe["periodSeconds"] * probe["failureThreshold"] >= STALE_AFTER_SECONDS
    task = json.loads((DEPLOY / "ecs" / "task-definition-worker.json").read_text())
    check = task["containerDefinitions"][0]
    port = check["portMappings"][0]["containerPort"]
    assert f"127.0.0.1:{port}/live" in " ".join(check["healthCheck"]["command"])


def test_every_health_check_waits_for_the_slowest_answer_health_gives() -> None:
    # /health reports a dependency that does not answer as down after PROBE_SECONDS; a check
    # that gives up sooner fails the replica for it (ECS then replaces the task) instead.
    for target in ["base", "overlays/dev", "overlays/prod"]:
        container = _pod(_by_kind(target)[("Deployment", "contextiq-api")])["spec"]["containers"][0]
        for probe in ("startupProbe", "readinessProbe"):
            assert container[probe].get("timeoutSeconds", 1) > PROBE_SECONDS, (target, probe)
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    compose = _docs(DEPLOY / "compose.yaml")[0]["services"]["api"]["healthcheck"]
    task = json.loads((DEPLOY / "ecs" / "task-definition-api.json").read_text())
    ecs = task["containerDefinitions"][0]["healthCheck"]
    checks = {  # what the command waits, and what its runner lets it take
        "Dockerfile": (
            dockerfile,
            re.findall(r"^HEALTHCHECK .*--timeout=(\d+)s", dockerfile, re.M)[0],
        ),
        "compose": (" ".join(compose["test"]), compose["timeout"].removesuffix("s")),
        "ecs": (" ".join(ecs["command"]), ecs["timeout"]),
    }
    for where, (command, allowed) in checks.items():
        waits = float(_HEALTH_CHECK.findall(command)[0])
        assert PROBE_SECONDS < waits < float(allowed), where


@pytest.mark.parametrize("target", ["base", "overlays/dev", "overlays/prod"])
def test_a_retraining_that_finds_another_running_or_refuses_fails_without_retries(
    target: str,
) -> None:
    # `train --wait` waited for the worker's round already; a retry would only wait again. A
    # refusal before training (a read-only model volume) would be refused again.
    job = _by_kind(target)[("CronJob", "contextiq-retrain")]["spec"]["jobTemplate"]["spec"]
    assert job["template"]["spec"]["restartPolicy"] == "Never"  # what podFailurePolicy needs
    assert job["backoffLimit"] >= 1
    busy = job["podFailurePolicy"]["rules"][0]
    assert busy["action"] == "FailJob"
    assert busy["onExitCodes"] == {
        "containerName": "train",
        "operator": "In",
        "values": sorted([TRAINING_REFUSED, TRAINING_BUSY]),
    }


@pytest.mark.parametrize("target", ["base", "overlays/dev", "overlays/prod"])
def test_the_autoscaler_alone_sets_the_api_replicas(target: str) -> None:
    # A count in the Deployment would be re-applied by every `kubectl apply`, scaling the
    # API down to it under load until the autoscaler catches up.
    objs = _by_kind(target)
    assert "replicas" not in objs[("Deployment", "contextiq-api")]["spec"]
    assert objs[("HorizontalPodAutoscaler", "contextiq-api")]["spec"]["minReplicas"] >= 1


def test_prod_runs_three_api_replicas_autoscaled_spread_and_protected() -> None:
    objs = _by_kind("overlays/prod")
    api = objs[("Deployment", "contextiq-api")]
    pod = api["spec"]["template"]["spec"]
    spread = {c["topologyKey"]: c["whenUnsatisfiable"] for c in pod["topologySpreadConstraints"]}
    assert spread == {
        "kubernetes.io/hostname": "DoNotSchedule",
        "topology.kubernetes.io/zone": "ScheduleAnyway",
    }
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/v1/health"
    assert container["livenessProbe"] and container["startupProbe"]
    hpa = objs[("HorizontalPodAutoscaler", "contextiq-api")]["spec"]
    assert hpa["minReplicas"] == 3 and hpa["maxReplicas"] > 3
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    assert hpa["scaleTargetRef"]["name"] == "contextiq-api"
    pdb = objs[("PodDisruptionBudget", "contextiq-api")]["spec"]
    assert pdb["selector"]["matchLabels"] == api["spec"]["selector"]["matchLabels"]
    assert pdb["maxUnavailable"] == 1
    assert container["image"].endswith(":0.1.0")


def test_ingress_terminates_tls_and_keeps_metrics_inside() -> None:
    ingress = _by_kind("overlays/prod")[("Ingress", "contextiq")]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
    host = ingress["spec"]["rules"][0]["host"]
    assert ingress["spec"]["tls"][0]["hosts"] == [host]
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    assert not any(p["path"] == "/" and p["pathType"] == "Prefix" for p in paths)
    assert not any("/metrics".startswith(p["path"]) and p["pathType"] == "Prefix" for p in paths)
    assert {"path": "/api", "pathType": "Prefix"}.items() <= paths[0].items()


def test_only_context_iq_pods_reach_the_data_stores() -> None:
    objs = _by_kind("overlays/dev")  # the dev overlay runs Kafka beside the app
    policy = objs[("NetworkPolicy", "contextiq-datastores")]["spec"]
    selected = policy["podSelector"]["matchExpressions"][0]
    assert selected["key"] == "contextiq.io/datastore"
    assert set(selected["values"]) == {"postgres", "redis", "kafka"}
    clients = policy["ingress"][0]
    assert clients["from"] == [
        {"podSelector": {"matchLabels": {"contextiq.io/datastore-client": "true"}}}
    ]
    assert {p["port"] for p in clients["ports"]} == {5432, 6379, 9092}
    kafka = objs[("StatefulSet", "kafka")]
    assert kafka["spec"]["template"]["metadata"]["labels"]["contextiq.io/datastore"] == "kafka"
    assert "contextiq.io/datastore-client" not in kafka["spec"]["template"]["metadata"]["labels"]
    assert kafka["spec"]["replicas"] == 1
    env = {
        e["name"]: e.get("value") for e in kafka["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["KAFKA_REPLICAS"] == "1"  # the quorum is built from it


def test_kraft_kafka_replicates_three_ways_and_creates_the_topic() -> None:
    objs = _by_kind("kafka/kraft")
    kafka = objs[("StatefulSet", "kafka")]
    assert kafka["spec"]["replicas"] == 3
    env = {
        e["name"]: e.get("value") for e in kafka["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["KAFKA_REPLICAS"] == "3"
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert kafka["spec"]["volumeClaimTemplates"]
    assert ("PodDisruptionBudget", "kafka") in objs
    topic_job = objs[("Job", "kafka-create-topics")]["spec"]["template"]["spec"]["containers"][0]
    assert "--topic=interactions" in topic_job["command"]


def test_kafka_keeps_its_log_on_its_volume_below_the_root() -> None:
    # Unset, apache/kafka logs to /tmp in the container; at a volume's root, an ext4
    # lost+found stops the broker ("not in the form of topic-partition").
    kafka = _by_kind("kafka/kraft")[("StatefulSet", "kafka")]["spec"]["template"]["spec"]
    container = kafka["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    data = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}["data"]
    assert PurePosixPath(data) in PurePosixPath(env["KAFKA_LOG_DIRS"]).parents
    compose = _docs(DEPLOY / "compose.yaml")[0]
    service = compose["services"]["kafka"]
    named = {
        target
        for source, target in (v.split(":")[:2] for v in service["volumes"])
        if source in compose["volumes"]
    }
    log_dir = PurePosixPath(service["environment"]["KAFKA_LOG_DIRS"])
    assert named & {str(p) for p in log_dir.parents}


def test_strimzi_example_is_a_kraft_cluster_with_the_interactions_topic() -> None:
    objs = _by_kind("kafka/strimzi")
    kafka = objs[("Kafka", "contextiq")]
    assert kafka["apiVersion"] == "kafka.strimzi.io/v1beta2"
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert kafka["spec"]["kafka"]["config"]["min.insync.replicas"] == 2
    pools = [o for (kind, _), o in objs.items() if kind == "KafkaNodePool"]
    assert {r for p in pools for r in p["spec"]["roles"]} == {"broker", "controller"}
    assert all(p["metadata"]["labels"]["strimzi.io/cluster"] == "contextiq" for p in pools)
    topic = objs[("KafkaTopic", "interactions")]
    assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "contextiq"
    prod = _by_kind("overlays/prod")
    config = next(o for (kind, _), o in prod.items() if kind == "ConfigMap")["data"]
    url = config["CONTEXTIQ_EVENTS_URL"]
    assert url.startswith("kafka://contextiq-kafka-bootstrap:9092")
    assert f"partitions={topic['spec']['partitions']}" in url


def test_the_install_creates_the_replicated_topic_before_the_app_starts() -> None:
    # The relay creates a missing topic with one replica, below min.insync.replicas=2.
    guide = (ROOT / "DEPLOYMENT.md").read_text()
    steps = [
        "apply -k deploy/k8s/kafka/strimzi",
        "wait kafkatopic/interactions --for=condition=Ready",
        "apply -k deploy/k8s/overlays/prod",
    ]
    assert [guide.index(step) for step in steps] == sorted(guide.index(step) for step in steps)


@pytest.mark.parametrize("target", ["base", "overlays/dev", "overlays/prod"])
def test_the_migrations_can_be_applied_alone_before_the_pods(target: str) -> None:
    # `kubectl apply -l 'app.kubernetes.io/component in (settings,migrations)'` (DEPLOYMENT.md)
    # must select the Job and the ConfigMap it reads, and nothing that serves.
    first = {
        key
        for key, obj in _by_kind(target).items()
        if obj["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        in {"settings", "migrations"}
    }
    assert {kind for kind, _ in first} == {"ConfigMap", "Job"}
    assert ("Job", "contextiq-migrate") in first
    guide = (ROOT / "DEPLOYMENT.md").read_text()
    steps = [
        "kubectl apply -l 'app.kubernetes.io/component in (settings,migrations)' -f -",
        "wait --for=condition=complete job/contextiq-migrate",
        "kubectl apply -k deploy/k8s/overlays/prod\n",
    ]
    assert [guide.index(step) for step in steps] == sorted(guide.index(step) for step in steps)


def test_the_guide_sizes_postgresql_for_the_prod_overlay_at_its_maximum() -> None:
    objs = _by_kind("overlays/prod")
    processes = (
        objs[("HorizontalPodAutoscaler", "contextiq-api")]["spec"]["maxReplicas"]
        + objs[("Deployment", "contextiq-worker")]["spec"]["replicas"]
        + sum(kind in {"Job", "CronJob"} for kind, _ in objs)
    )
    connections = processes * (POSTGRES_POOL_SIZE + POSTGRES_MAX_OVERFLOW)
    assert f"may open {connections} connections" in (ROOT / "DEPLOYMENT.md").read_text()


# -- Compose, Dockerfile, workflow -------------------------------------------------------------


def test_compose_matches_the_compose_specification() -> None:
    _run(
        _tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.compose-spec",
        str(DEPLOY / "compose.yaml"),
    )


def test_compose_runs_every_role_with_health_checks() -> None:
    compose = _docs(DEPLOY / "compose.yaml")[0]
    services = compose["services"]
    assert {"postgres", "redis", "kafka", "migrate", "api", "worker"} <= services.keys()
    for name in ("postgres", "redis", "kafka", "api", "worker"):
        assert services[name]["healthcheck"]["test"], name
    # The image's HEALTHCHECK asks the API's port: the other roles replace it.
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "127.0.0.1:8000/api/v1/health" in dockerfile
    worker_port = services["worker"]["environment"]["CONTEXTIQ_WORKER_METRICS_PORT"]
    assert f"127.0.0.1:{worker_port}/live" in " ".join(services["worker"]["healthcheck"]["test"])
    assert services["migrate"]["healthcheck"] == {"disable": True}
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
    prometheus = services["prometheus"]
    mounted = {v.split(":")[0] for v in prometheus["volumes"]}
    assert all((DEPLOY / m).is_file() for m in mounted)


def test_compose_postgres_takes_every_pool_at_the_documented_scale() -> None:
    compose_file = DEPLOY / "compose.yaml"
    scales = re.findall(
        r"--scale api=(\d+) --scale worker=(\d+)",
        compose_file.read_text() + (ROOT / "DEPLOYMENT.md").read_text(),
    )
    assert scales
    processes = max(int(api) + int(worker) for api, worker in scales)
    command = _docs(compose_file)[0]["services"]["postgres"]["command"]
    setting = next(c for c in command if c.startswith("max_connections="))
    reserved = 3  # superuser_reserved_connections
    per_process = POSTGRES_POOL_SIZE + POSTGRES_MAX_OVERFLOW
    assert int(setting.split("=")[1]) - reserved >= processes * per_process


def test_compose_redis_never_evicts_the_generation_counters() -> None:
    # An evicted counter reads 0 again: lists its bumps had orphaned would be served again.
    command = _docs(DEPLOY / "compose.yaml")[0]["services"]["redis"]["command"]
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert "--maxmemory" in command


def test_dockerfile_passes_hadolint() -> None:
    _run(_tool("hadolint"), "--failure-threshold", "info", str(DEPLOY / "Dockerfile"))


def test_ci_workflow_example_matches_the_github_schema() -> None:
    workflow = ROOT / ".github" / "workflows" / "ci.yml"
    _run(_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow))
    steps = [
        s.get("run", "") for s in yaml.safe_load(workflow.read_text())["jobs"]["test"]["steps"]
    ]
    assert "make test" in steps  # the README's test command


# -- ECS --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["api", "worker", "migrate"])
def test_ecs_task_definitions_match_the_ecs_api(role: str) -> None:
    task = json.loads((DEPLOY / "ecs" / f"task-definition-{role}.json").read_text())
    shape = botocore.session.get_session().get_service_model("ecs")
    report = ParamValidator().validate(
        task, shape.operation_model("RegisterTaskDefinition").input_shape
    )
    assert not report.has_errors(), report.generate_report()
    container = task["containerDefinitions"][0]
    assert container["command"] == [{"api": "serve"}.get(role, role)]
    assert task["requiresCompatibilities"] == ["FARGATE"]
    secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert secrets["CONTEXTIQ_DATABASE_URL"].startswith("arn:aws:secretsmanager:")
    env = {e["name"] for e in container["environment"]}
    assert not env & secrets.keys()  # secrets never in plain environment


def test_bedrock_policy_allows_invoking_only_the_configured_model() -> None:
    policy = json.loads((DEPLOY / "ecs" / "iam-task-role-policy.json").read_text())
    bedrock = next(s for s in policy["Statement"] if s["Sid"] == "InvokeTheConfiguredModel")
    assert bedrock["Action"] == ["bedrock:InvokeModel"]
    task = json.loads((DEPLOY / "ecs" / "task-definition-api.json").read_text())
    llm = next(
        e["value"]
        for e in task["containerDefinitions"][0]["environment"]
        if e["name"] == "CONTEXTIQ_LLM_URL"
    )
    model = llm.removeprefix("bedrock://").split("?")[0]
    assert all(r.endswith(f"foundation-model/{model}") for r in bedrock["Resource"])


# -- settings ---------------------------------------------------------------------------------

#: Every variable a process reads: a misspelt one is ignored and its default used instead.
SETTINGS_ENV = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
SETTINGS_DOCUMENTED = [
    *sorted(p for p in DEPLOY.rglob("*") if p.is_file()),
    ROOT / ".github" / "workflows" / "ci.yml",
    ROOT / ".env.example",
    ROOT / "DEPLOYMENT.md",
    ROOT / "docs" / "operations.md",
]


@pytest.mark.parametrize("path", SETTINGS_DOCUMENTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_setting_named_is_one_the_processes_read(path: Path) -> None:
    named = set(re.findall(rf"\b{ENV_PREFIX}[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    assert named <= SETTINGS_ENV, sorted(named - SETTINGS_ENV)


def _environments() -> dict[str, dict[str, str]]:
    """Each role's CONTEXTIQ_* values as every deployment file sets them, by where."""
    found: dict[str, dict[str, str]] = {}
    for target in ["base", "overlays/dev", "overlays/prod"]:
        for (kind, name), obj in _by_kind(target).items():
            if kind == "ConfigMap":
                found[f"{target} {name}"] = dict(obj["data"])
            elif kind in {"Deployment", "Job", "CronJob"}:
                for c in _pod(obj)["spec"]["containers"]:
                    env = {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}
                    found[f"{target} {name}/{c['name']}"] = env
    for name, service in _docs(DEPLOY / "compose.yaml")[0]["services"].items():
        env = service.get("environment", {})
        # `${VAR:-default}`: the default, as Compose reads it with the variable unset.
        found[f"compose {name}"] = {
            k: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(v)) for k, v in env.items()
        }
    for task in sorted((DEPLOY / "ecs").glob("task-definition-*.json")):
        for c in json.loads(task.read_text())["containerDefinitions"]:
            found[f"{task.name} {c['name']}"] = {e["name"]: e["value"] for e in c["environment"]}
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    found["Dockerfile"] = dict(re.findall(rf"\b({ENV_PREFIX}\w+)=(\S+)", dockerfile))
    return {
        where: {k: v for k, v in env.items() if k.startswith(ENV_PREFIX)}
        for where, env in found.items()
    }


def test_every_deployment_sets_values_the_settings_accept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environments = _environments()
    assert len(environments) > 10
    for where, env in environments.items():
        with monkeypatch.context() as patched:
            for name in SETTINGS_ENV:
                patched.delenv(name, raising=False)
            for name, value in env.items():
                patched.setenv(name, value)
            Settings(_env_file=None)  # raises, naming the variable, on a wrong value
        assert set(env) <= SETTINGS_ENV, where


# -- monitoring -------------------------------------------------------------------------------


def _exported() -> dict[str, set[str]]:
    """Every series name the code exports, with its labels."""
    series: dict[str, set[str]] = {}
    wrappers = [v for v in vars(metrics).values() if isinstance(v, MetricWrapperBase)]
    for wrapper in wrappers:
        labels = set(wrapper._labelnames)
        for family in wrapper.describe():
            series[family.name] = labels
            if family.type == "histogram":
                series |= {f"{family.name}_{s}": labels for s in ("count", "sum")}
                series[f"{family.name}_bucket"] = labels | {"le"}
            if family.type == "counter":
                series[f"{family.name}_total"] = labels
    return series


def _check_query(expr: str) -> set[str]:
    """The labels a query's result keeps; fails on a metric or label the code never exports."""
    exported = _exported()
    used: set[str] = set()
    for name, selector in re.findall(r"\b(contextiq_[a-z_]+)\b(\{[^}]*\})?", expr):
        assert name in exported, name
        matched = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", selector))
        assert matched <= exported[name], (name, matched)
        used |= exported[name]
    grouped = {
        label.strip()
        for labels in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr)
        for label in labels.split(",")
    }
    assert grouped <= used, (expr, grouped - used)
    return grouped


def test_alert_rules_cover_lag_errors_latency_and_the_breaker() -> None:
    rules = yaml.safe_load((DEPLOY / "monitoring" / "alerts.yaml").read_text())
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    for rule in alerts.values():
        assert rule["expr"] and rule["labels"]["severity"] and rule["annotations"]["summary"]
    exprs = " ".join(r["expr"] for r in alerts.values())
    for metric in (
        "outbox_lag_seconds",
        'status=~"5.."',
        "histogram_quantile(0.99",
        "llm_breaker_state",
        "unless\n(sum(rate(contextiq_events_applied_total",  # the lag rule misses dead workers
        "parked_reports_expired_total",  # clicks that count for no list
    ):
        assert metric in exprs
    for rule in alerts.values():
        kept = _check_query(rule["expr"])
        named = set(re.findall(r"\$labels\.(\w+)", json.dumps(rule["annotations"])))
        assert named <= kept, (rule["alert"], named - kept)


def test_the_breaker_alert_fires_when_misconfigured_too() -> None:
    """Level 3 (a refused key or model) is worse than 2: it does not heal by waiting."""
    rules = yaml.safe_load((DEPLOY / "monitoring" / "alerts.yaml").read_text())
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    expr = alerts["ContextIQLanguageModelBreakerOpen"]["expr"]
    assert expr == "max by (provider) (contextiq_llm_breaker_state) >= 2"


def test_grafana_dashboard_queries_exported_metrics() -> None:
    dashboard = json.loads((DEPLOY / "monitoring" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert exprs and len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for expr in exprs:
        _check_query(expr)
    prometheus = yaml.safe_load((DEPLOY / "monitoring" / "prometheus.yml").read_text())
    assert prometheus["rule_files"] == ["/etc/prometheus/alerts.yaml"]


#: How the guide's metric table names a gauge's `multiprocess_mode`.
_GAUGE_MODES = {"latest": "mostrecent", "live sum": "livesum", "live max": "livemax"}


def test_the_guide_lists_every_metric_with_its_type_labels_and_sum() -> None:
    guide = (ROOT / "DEPLOYMENT.md").read_text()
    table = guide[guide.index("| metric | type | meaning |") :].split("\n\n")[0]
    documented: dict[str, str] = {}
    for row in table.splitlines()[2:]:
        names, kind = row.split("|")[1:3]
        for name, labels in re.findall(r"`(contextiq_\w+)(?:\{([^}]*)\})?`", names):
            documented[name] = kind.strip()
            assert _exported()[name] == set(filter(None, labels.split(","))), name
    wrappers = [v for v in vars(metrics).values() if isinstance(v, MetricWrapperBase)]
    for wrapper in wrappers:
        (family,) = wrapper.describe()
        name = family.name + ("_total" if family.type == "counter" else "")
        expected = family.type
        if family.type == "gauge":
            mode = {v: k for k, v in _GAUGE_MODES.items()}[wrapper._multiprocess_mode]
            expected = f"gauge ({mode})"
        assert documented.get(name) == expected, name
