"""Gauges that are read rather than counted: outbox backlog, the served model, the breaker."""

import asyncio
import logging
from datetime import UTC, datetime

from contextiq.llm import ScoringService
from contextiq.observability.metrics import (
    BREAKER_LEVELS,
    LLM_BREAKER_STATE,
    MODEL_INFO,
    MODEL_OFFLINE_METRIC,
    MODEL_TRAINING_SECONDS,
    OUTBOX_LAG,
    OUTBOX_PENDING,
    multiprocess,
)
from contextiq.recommend.models import ModelHolder
from contextiq.store.store import Store

log = logging.getLogger(__name__)


def _forget_version(version: str) -> None:
    """A version no longer served leaves the scrape, or each promotion would add a series for
    as long as the process runs. prometheus_client cannot remove a series in multi-process
    mode: there it reads 0 until the process ends."""
    if multiprocess():
        MODEL_INFO.labels(version).set(0)
    else:
        MODEL_INFO.remove(version)


class MetricsSampler:
    def __init__(
        self,
        store: Store,
        models: ModelHolder,
        rescorer: ScoringService | None,
        interval_seconds: float,
    ) -> None:
        self.store = store
        self.models = models
        self.rescorer = rescorer
        self.interval_seconds = interval_seconds
        self._served: str | None = None
        self._described: str | None = None

    async def sample(self) -> None:
        pending, oldest = await self.store.outbox_backlog()
        OUTBOX_PENDING.set(pending)
        OUTBOX_LAG.set((datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0)
        await self._sample_model()
        if self.rescorer is not None:
            state = self.rescorer.breaker_state
            LLM_BREAKER_STATE.labels(self.rescorer.provider).set(BREAKER_LEVELS[state])

    async def _sample_model(self) -> None:
        version = self.models.version
        if version != self._served:
            if self._served is not None:
                _forget_version(self._served)
            if version is not None:
                MODEL_INFO.labels(version).set(1)
            self._served = version
        if version is None or version == self._described:
            return
        history = await self.store.model_versions(limit=20)
        info = next((v for v in history if v.version == version), None)
        if info is None:
            return
        for name, value in info.metrics.items():
            MODEL_OFFLINE_METRIC.labels(name).set(value)
        MODEL_TRAINING_SECONDS.set(info.train_seconds)
        self._described = version

    async def run(self) -> None:
        while True:
            try:
                await self.sample()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is down: health says so, keep trying
                log.debug("metrics sampling failed: %s", exc)
            await asyncio.sleep(self.interval_seconds)
