"""JSON request logs with request ids that reach the worker's lines; no secret in any line."""

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contextiq.api.app import create_app
from contextiq.cli.bootstrap import bootstrap
from contextiq.config import Settings
from contextiq.security.redact import install_redaction, redact
from tests.conftest import embedded_settings

SECRET_KEY = "key-that-is-secret-42"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_one_json_line_per_request_and_the_id_reaches_the_worker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = embedded_settings(tmp_path, log_format="json", api_key=SECRET_KEY)
    bootstrap(settings, lambda _: None, demo_items=60, demo_users=10)
    capsys.readouterr()
    event = {"user_id": "user_001", "content_id": "content_0002", "interaction_type": "save"}
    err: list[str] = []
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/api/v1/interact",
            json=event,
            headers={"X-Request-ID": "trace-42", "X-API-Key": SECRET_KEY},
        )
        assert response.status_code < 300, response.text
        assert response.headers["x-request-id"] == "trace-42"
        deadline = time.monotonic() + 5
        while not any("applied 1 events" in e for e in err) and time.monotonic() < deadline:
            time.sleep(0.05)
            err.append(capsys.readouterr().err)
        logging.getLogger("contextiq.test").warning(
            "connecting to postgresql://app:pg-password-77@db:5432/x with %s", SECRET_KEY
        )
    err.append(capsys.readouterr().err)
    text = "".join(err)
    lines = _lines(text)

    access = [line for line in lines if line["logger"] == "contextiq.access"]
    assert len(access) == 1
    assert access[0]["request_id"] == "trace-42"
    assert access[0]["route"] == "/api/v1/interact"
    assert access[0]["method"] == "POST"
    assert access[0]["status"] == response.status_code
    assert access[0]["duration_ms"] > 0
    assert access[0]["level"] == "info"

    applied = [line for line in lines if line["logger"] == "contextiq.events"]
    assert applied and "trace-42" in applied[0]["request_ids"]

    assert SECRET_KEY not in text
    assert "pg-password-77" not in text
    assert "postgresql://app:***@db:5432/x" in text


def test_text_lines_on_a_terminal_carry_the_request_id_as_a_field() -> None:
    from contextiq.observability.logs import TextFormatter

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    record.request_id = "abc"
    line = TextFormatter().format(record)
    assert line.endswith("x: hello you [request_id=abc]")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("redis://:hunter2pass@cache:6379/0", "redis://:***@cache:6379/0"),
        ("kafka://broker:9092?topic=t", "kafka://broker:9092?topic=t"),
        ("key=sk-live-abcdef and again sk-live-abcdef", "key=*** and again ***"),
        ("short ab stays", "short ab stays"),
    ],
)
def test_redaction(line: str, expected: str) -> None:
    install_redaction(Settings(llm_api_key="sk-live-abcdef"))
    assert redact(line) == expected
