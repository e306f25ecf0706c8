"""`contextiq worker` serves /metrics and /live on a port of its own; a taken port does not
stop it, and /live says when the worker's event loop stands still while that port answers."""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contextiq.observability.heartbeat import Heartbeat
from contextiq.observability.setup import serve_worker_port
from tests.conftest import embedded_settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(port: int, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5)


def test_worker_port_serves_metrics_and_liveness(tmp_path: Path) -> None:
    port = _free_port()
    settings = embedded_settings(tmp_path, worker_metrics_port=port)
    server = serve_worker_port(settings, Heartbeat())
    assert server is not None
    try:
        response = _get(port, "/metrics")
        assert response.status_code == 200
        assert "contextiq_events_applied_total" in response.text
        assert "contextiq_consumer_lag_messages" in response.text
        assert (_get(port, "/live").status_code, _get(port, "/live").text) == (200, "alive\n")
        # the port is taken: a warning, no crash
        assert serve_worker_port(settings, Heartbeat()) is None
    finally:
        server.shutdown()
        server.server_close()


def test_with_metrics_off_the_port_still_answers_liveness(tmp_path: Path) -> None:
    """A probe pointed at the port must not restart a worker whose operator turned metrics off."""
    port = _free_port()
    settings = embedded_settings(tmp_path, worker_metrics_port=port, metrics_enabled=False)
    server = serve_worker_port(settings, Heartbeat())
    assert server is not None
    try:
        assert _get(port, "/live").status_code == 200
        metrics = _get(port, "/metrics")
        assert metrics.status_code == 404
        assert "CONTEXTIQ_METRICS_ENABLED" in metrics.text
    finally:
        server.shutdown()
        server.server_close()


def test_no_port_no_server(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path, worker_metrics_port=0)
    assert serve_worker_port(settings, Heartbeat()) is None


@pytest.fixture
def loop_in_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop turning in a thread of its own, as the worker's does beside the port's."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _wait_for_status(port: int, status: int, within: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        response = _get(port, "/live")
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def test_live_fails_while_the_loop_is_stuck_and_recovers(
    tmp_path: Path, loop_in_thread: asyncio.AbstractEventLoop
) -> None:
    """Old manifests probed the port over TCP, which its thread answers while the loop is stuck."""
    port = _free_port()
    heartbeat = Heartbeat(stale_after=0.5)
    beats = asyncio.run_coroutine_threadsafe(heartbeat.run(), loop_in_thread)
    server = serve_worker_port(embedded_settings(tmp_path, worker_metrics_port=port), heartbeat)
    assert server is not None
    try:
        assert _wait_for_status(port, 200).status_code == 200
        release = threading.Event()
        loop_in_thread.call_soon_threadsafe(release.wait)  # a blocking call on the loop
        try:
            stuck = _wait_for_status(port, 503)
            assert stuck.status_code == 503
            assert stuck.text.startswith("event loop silent for")
            assert _get(port, "/metrics").status_code == 200  # what a TCP probe saw: all well
        finally:
            release.set()
        assert _wait_for_status(port, 200).status_code == 200  # the loop turns again
    finally:
        beats.cancel()
        server.shutdown()
        server.server_close()


def test_heartbeat_goes_stale_without_beats() -> None:
    now = [100.0]
    heartbeat = Heartbeat(stale_after=30, clock=lambda: now[0])
    now[0] += 29.9
    assert heartbeat.alive()
    now[0] += 0.2
    assert not heartbeat.alive()
    assert heartbeat.silent_for() == pytest.approx(30.1)
    heartbeat.beat()
    assert heartbeat.alive()
