"""Prometheus metrics of the API and the worker, correct with several serving processes.

With `PROMETHEUS_MULTIPROC_DIR` set (`use_multiprocess_dir` does it before `serve --workers N`
starts its processes), every process writes its samples to files there and a scrape of any one
process adds them up: counters and histograms sum over processes, gauges say below how.
"""

import os
import shutil
import tempfile
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

from contextiq.events.types import EVENT_TYPES, ImpressionBatch, ImpressionSeen, InteractionRecorded

# `_created` timestamps double the series of every counter and histogram for no alert's use.
disable_created_metrics()  # type: ignore[no-untyped-call]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

HTTP_REQUEST_DURATION = Histogram(
    "contextiq_http_request_duration_seconds",
    "HTTP request duration by route template, method and status.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

CACHE_LOOKUPS = Counter(
    "contextiq_cache_lookups_total",
    "Recommendation response cache lookups by result (hit or miss).",
    ["result"],
)

# Read from the database, the same for every process: the latest reading wins.
OUTBOX_PENDING = Gauge(
    "contextiq_outbox_pending_rows",
    "Outbox rows not yet published to the event bus.",
    multiprocess_mode="mostrecent",
)
OUTBOX_LAG = Gauge(
    "contextiq_outbox_lag_seconds",
    "Age of the oldest unpublished outbox row (0 when none is pending).",
    multiprocess_mode="mostrecent",
)
OUTBOX_PUBLISHED = Counter(
    "contextiq_outbox_published_total", "Outbox rows published to the event bus."
)

CONSUMER_LAG = Gauge(
    "contextiq_consumer_lag_messages",
    "Kafka messages behind the partition's high watermark, per partition this process owns.",
    ["partition"],
    multiprocess_mode="livesum",
)
EVENTS_APPLIED = Counter(
    "contextiq_events_applied_total", "Events applied to profiles and popularity.", ["type"]
)
PARKED_REPORTS_EXPIRED = Counter(
    "contextiq_parked_reports_expired_total",
    "Click and seen reports dropped because their impression never arrived in time.",
    ["type"],
)
EVENTS_DUPLICATE = Counter(
    "contextiq_events_duplicate_total", "Redelivered events dropped because already applied."
)
EVENTS_DEAD_LETTERED = Counter(
    "contextiq_events_dead_lettered_total",
    "Events that failed on every delivery, or that this version cannot read (type "
    "`unreadable`), moved to the dead letters so delivery goes on.",
    ["type"],
)
#: The `type` of a dead-lettered event this version cannot read (a newer version's).
UNREADABLE = "unreadable"
EVENTS_UNIDENTIFIED = Counter(
    "contextiq_events_unidentified_total",
    "Delivered records naming no event id (not JSON, not an event object): dropped.",
)

MODEL_INFO = Gauge(
    "contextiq_model_info",
    "1 for the model version a live process serves.",
    ["version"],
    multiprocess_mode="livemax",
)
# No version label: a promotion replaces the values instead of leaving old series behind.
MODEL_OFFLINE_METRIC = Gauge(
    "contextiq_model_offline_metric",
    "Held-out evaluation of the promoted model, by metric name.",
    ["metric"],
    multiprocess_mode="mostrecent",
)
MODEL_TRAINING_SECONDS = Gauge(
    "contextiq_model_training_seconds",
    "How long the promoted model took to train.",
    multiprocess_mode="mostrecent",
)
TRAINING_DURATION = Histogram(
    "contextiq_training_duration_seconds",
    "Duration of retraining rounds run by this deployment's workers.",
    ["outcome"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200),
)

LLM_CALL_DURATION = Histogram(
    "contextiq_llm_call_duration_seconds",
    "Language-model provider call duration, successful calls.",
    ["provider"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
LLM_CALLS = Counter(
    "contextiq_llm_calls_total",
    "Language-model provider calls by outcome (ok, error, timeout, rejected, misconfigured).",
    ["provider", "outcome"],
)
LLM_TIMEOUTS = Counter(
    "contextiq_llm_timeouts_total", "Provider calls that ran past their timeout.", ["provider"]
)
LLM_BUDGET_EXCEEDED = Counter(
    "contextiq_llm_budget_exceeded_total",
    "Requests answered before their language-model scores arrived (ML only for the rest).",
    ["provider"],
)
LLM_BREAKER_STATE = Gauge(
    "contextiq_llm_breaker_state",
    "Circuit breaker around the provider: 0 closed, 1 half-open, 2 open, 3 misconfigured (key "
    "or model refused) (worst live process).",
    ["provider"],
    multiprocess_mode="livemax",
)
BREAKER_LEVELS = {"closed": 0, "half_open": 1, "open": 2, "misconfigured": 3}
#: `rejected`: the provider refused the request's content; `misconfigured`: our key or model.
LLM_OUTCOMES = ("ok", "error", "timeout", "rejected", "misconfigured")
TRAINING_OUTCOMES = ("completed", "failed")
CACHE_RESULTS = ("hit", "miss")
#: The event types a parked report can have (`store/parked.py`).
PARKED_REPORT_TYPES = (InteractionRecorded.type, ImpressionSeen.type)

# A labelled series appears with its first sample, and rate() and increase() count nothing
# for the step from absent to 1: the first timeout, failed training or cache hit would be
# missed, and panels and alerts would see no series at all until then. So each series is
# exported at 0 as soon as its labels are known.
for _outcome in TRAINING_OUTCOMES:
    TRAINING_DURATION.labels(_outcome)
for _result in CACHE_RESULTS:
    CACHE_LOOKUPS.labels(_result)
EVENTS_DEAD_LETTERED.labels(UNREADABLE)
for _type in EVENT_TYPES:
    EVENTS_DEAD_LETTERED.labels(_type)
    if _type != ImpressionBatch.type:  # counted as the impressions it carries
        EVENTS_APPLIED.labels(_type)
for _report in PARKED_REPORT_TYPES:
    PARKED_REPORTS_EXPIRED.labels(_report)


def start_llm_series(provider: str) -> None:
    """A provider's series at 0, from when a process first may call it."""
    for outcome in LLM_OUTCOMES:
        LLM_CALLS.labels(provider, outcome)
    LLM_TIMEOUTS.labels(provider)
    LLM_BUDGET_EXCEEDED.labels(provider)
    LLM_CALL_DURATION.labels(provider)


def record_llm_call(provider: str, outcome: str, seconds: float | None = None) -> None:
    """One provider call: `ok` (with its duration), or one of the other LLM_OUTCOMES."""
    LLM_CALLS.labels(provider, outcome).inc()
    if outcome == "timeout":
        LLM_TIMEOUTS.labels(provider).inc()
    if seconds is not None:
        LLM_CALL_DURATION.labels(provider).observe(seconds)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def use_multiprocess_dir() -> Path:
    """Point this process and the ones it starts at an empty metrics directory.

    Call it before starting several serving processes; samples a previous run left
    behind would otherwise be added to this run's.
    """
    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        path = Path(configured)
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True, exist_ok=True)
    else:
        path = Path(tempfile.mkdtemp(prefix="contextiq-metrics-"))
        os.environ[MULTIPROC_ENV] = str(path)
    return path


def exposition_registry() -> CollectorRegistry:
    """The registry a scrape reads: every process's files in multi-process mode."""
    if not multiprocess():
        return REGISTRY
    registry = CollectorRegistry()
    prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def exposition() -> bytes:
    return generate_latest(exposition_registry())


def process_exited() -> None:
    """Drop this process's live gauges (breaker, model, consumer lag) from the sums."""
    if multiprocess():
        prometheus_multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
