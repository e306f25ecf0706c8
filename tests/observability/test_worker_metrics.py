"""`contextiq worker` serves /metrics on a port of its own; a taken port does not stop it."""

import socket
from pathlib import Path

import httpx
import pytest

from contextiq.observability.setup import serve_worker_metrics
from tests.conftest import embedded_settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_worker_metrics_port(tmp_path: Path) -> None:
    port = _free_port()
    settings = embedded_settings(tmp_path, worker_metrics_port=port)
    server = serve_worker_metrics(settings)
    assert server is not None
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert response.status_code == 200
        assert "contextiq_events_applied_total" in response.text
        assert "contextiq_consumer_lag_messages" in response.text
        assert serve_worker_metrics(settings) is None  # the port is taken: a warning, no crash
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("overrides", [{"worker_metrics_port": 0}, {"metrics_enabled": False}])
def test_worker_metrics_off(tmp_path: Path, overrides: dict[str, object]) -> None:
    settings = embedded_settings(tmp_path, **{"worker_metrics_port": 1, **overrides})
    assert serve_worker_metrics(settings) is None
