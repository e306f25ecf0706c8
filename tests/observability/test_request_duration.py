"""A request's duration ends when its answer has left, not when its background work does."""

import logging
from types import SimpleNamespace

import pytest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from contextiq.observability import middleware


def test_background_work_after_the_answer_is_not_counted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(middleware, "time", SimpleNamespace(perf_counter=lambda: clock.now))

    def later() -> None:  # a cache put after the answer, say, that takes 100 s
        clock.now += 100.0

    async def answer(_: Request) -> Response:
        clock.now += 0.002
        return Response("ok", background=BackgroundTask(later))

    app = middleware.ObservabilityMiddleware(Starlette(routes=[Route("/x", answer)]), metrics=False)
    caplog.set_level(logging.INFO, logger="contextiq.access")
    with TestClient(app) as client:
        assert client.get("/x").text == "ok"
    [record] = [r for r in caplog.records if r.name == "contextiq.access"]
    assert record.fields["duration_ms"] == 2.0
    assert clock.now == 100.002  # the background work did run
