"""Several serving processes, one scrape: samples add up the way each metric says."""

import os
import subprocess
import sys
from pathlib import Path

from tests.observability.scrape import value

PROCESS = """
import sys
from contextiq.observability import metrics as m
requests, pending, breaker, exit_cleanly = sys.argv[1:]
requests, pending = int(requests), int(pending)
for _ in range(requests):
    m.HTTP_REQUEST_DURATION.labels("GET", "/api/v1/health", "200").observe(0.003)
m.CACHE_LOOKUPS.labels("hit").inc(requests)
m.OUTBOX_PENDING.set(pending)
m.LLM_BREAKER_STATE.labels("local").set(m.BREAKER_LEVELS[breaker])
if exit_cleanly == "1":
    m.process_exited()
"""

SCRAPE = "from contextiq.observability import metrics; print(metrics.exposition().decode())"


def _run(env: dict[str, str], code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_counters_sum_gauges_follow_their_mode(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    _run(env, PROCESS, "2", "5", "open", "1")  # exited: its breaker no longer counts
    _run(env, PROCESS, "3", "7", "half_open", "0")  # still serving
    text = _run(env, SCRAPE)
    labels = {"method": "GET", "route": "/api/v1/health", "status": "200"}
    assert value(text, "contextiq_http_request_duration_seconds_count", **labels) == 5
    assert value(text, "contextiq_cache_lookups_total", result="hit") == 5
    assert value(text, "contextiq_outbox_pending_rows") == 7  # the latest reading
    assert value(text, "contextiq_llm_breaker_state", provider="local") == 1
