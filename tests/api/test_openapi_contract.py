"""The web UI's generated API types come from frontend/openapi.json: it must match the app."""

import json
from pathlib import Path

from contextiq.api.app import create_app
from tests.conftest import embedded_settings

COMMITTED = Path(__file__).resolve().parents[2] / "frontend" / "openapi.json"


def test_committed_openapi_matches_the_app(tmp_path: Path) -> None:
    live = create_app(embedded_settings(tmp_path)).openapi()
    committed = json.loads(COMMITTED.read_text())
    assert committed == json.loads(json.dumps(live)), (
        "the API changed: run `cd frontend && npm run gen:api` and commit the result"
    )
