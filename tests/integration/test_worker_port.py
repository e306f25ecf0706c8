"""`contextiq worker` answers its liveness probe from its own event loop, on its own port."""

import time
from pathlib import Path

import httpx

from tests.integration.conftest import Worker, contextiq_env, free_port


def test_a_running_worker_answers_live_and_metrics(tmp_path: Path) -> None:
    port = free_port()
    env = contextiq_env(
        tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        migrate_on_start="true",
        worker_metrics_port=str(port),
    )
    worker = Worker(tmp_path, "worker", env)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            assert worker.process is not None and worker.process.poll() is None, worker.log()
            try:
                live = httpx.get(f"http://127.0.0.1:{port}/live", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, worker.log()
                time.sleep(0.1)
        assert (live.status_code, live.text) == (200, "alive\n")
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
        assert "contextiq_events_applied_total" in metrics.text
    finally:
        worker.stop()
