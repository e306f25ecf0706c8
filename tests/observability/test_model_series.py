"""A process reports the model version it serves now, not every version it served once."""

from datetime import datetime

from contextiq.observability.metrics import MODEL_INFO
from contextiq.observability.sampler import MetricsSampler


class _Store:
    async def outbox_backlog(self) -> tuple[int, datetime | None]:
        return 0, None

    async def model_versions(self, limit: int) -> list[object]:
        return []


class _Models:
    version: str | None = None


def _reported() -> dict[str, float]:
    return {
        sample.labels["version"]: sample.value
        for family in MODEL_INFO.collect()
        for sample in family.samples
    }


async def test_a_replaced_model_version_leaves_the_info_series() -> None:
    # Retraining promotes a version an hour; each left behind would be one more series per
    # process, for as long as it runs.
    models = _Models()
    sampler = MetricsSampler(_Store(), models, None, 1.0)  # type: ignore[arg-type]
    for version in ("test-v1", "test-v2", "test-v3"):
        models.version = version
        await sampler.sample()
    reported = {v: x for v, x in _reported().items() if v.startswith("test-")}
    assert reported == {"test-v3": 1}
