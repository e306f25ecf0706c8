"""The LLM precompute loop: a failure is logged without naming the user."""

import asyncio
import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest

from contextiq.recommend.precompute import LLMPrecomputer


async def test_a_failed_precompute_is_logged_without_the_user_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tried = asyncio.Event()

    async def precompute_llm(user_id: str) -> int:
        tried.set()
        raise RuntimeError("provider down")

    service = SimpleNamespace(models=SimpleNamespace(version="v1"), precompute_llm=precompute_llm)
    precomputer = LLMPrecomputer(cast(Any, service))
    precomputer.enqueue(["erased-user-17"])
    task = asyncio.create_task(precomputer.run())
    await asyncio.wait_for(tried.wait(), 5)
    await asyncio.sleep(0)
    task.cancel()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["LLM precompute for a user failed: provider down"]
