"""Schemathesis against the live OpenAPI with an admin key: no input may produce a server
error, and every client error comes in the one error envelope."""

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from contextiq.api.app import create_app
from contextiq.cli.bootstrap import bootstrap
from tests.conftest import embedded_settings

ADMIN_KEY = "fuzz-admin-key"
SETTINGS = embedded_settings(
    Path(tempfile.mkdtemp(prefix="contextiq-fuzz-")), auth_required=True, admin_key=ADMIN_KEY
)
APP = create_app(SETTINGS)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schemathesis.check
def client_errors_use_the_envelope(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    if 400 <= response.status_code < 500:
        body = response.json()
        assert set(body) == {"error"}, body
        assert {"code", "message", "details"} == set(body["error"]), body


@pytest.fixture(scope="module", autouse=True)
def running_app() -> Iterator[None]:
    bootstrap(SETTINGS, lambda _: None, demo_items=100, demo_users=20)
    with TestClient(APP):  # runs the lifespan, so the fuzzed app has its services
        yield


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_causes_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        checks=[not_a_server_error, client_errors_use_the_envelope],
    )
