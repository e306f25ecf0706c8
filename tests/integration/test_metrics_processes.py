"""Two serving processes sharing one metrics directory: either one's /metrics counts both."""

import asyncio
from pathlib import Path

import httpx
import pytest

from contextiq.cli.bootstrap import bootstrap
from tests.conftest import embedded_settings
from tests.integration.conftest import Api, contextiq_env
from tests.observability.scrape import value

pytestmark = pytest.mark.integration

ROUTE = {"method": "GET", "route": "/api/v1/user-profile/{user_id}", "status": "200"}
COUNT = "contextiq_http_request_duration_seconds_count"


async def test_scrapes_of_either_process_add_up_both(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path)
    await asyncio.to_thread(bootstrap, settings, lambda _: None, 60, 10)
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    # Two servers on one SQLite file must share a cache (cli/sole_process.py).
    env = contextiq_env(
        tmp_path, database_url=settings.database_url, cache_url=f"disk://{tmp_path / 'cache.db'}"
    )
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    first, second = Api(tmp_path, "first", env), Api(tmp_path, "second", env)
    try:
        await asyncio.gather(first.started(120), second.started(120))
        async with httpx.AsyncClient(timeout=30) as client:
            for api, n in ((first, 3), (second, 2)):
                for _ in range(n):
                    response = await client.get(f"{api.base_url}/api/v1/user-profile/user_001")
                    assert response.status_code == 200
            scrapes = [(await client.get(f"{a.base_url}/metrics")).text for a in (first, second)]
        for text in scrapes:
            assert value(text, COUNT, **ROUTE) == 5
    finally:
        first.stop()
        second.stop()
    assert any(metrics_dir.iterdir()), "samples were written to the shared directory"
