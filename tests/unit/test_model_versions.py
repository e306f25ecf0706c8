"""Which version serves is the registry's ACTIVE file; database rows only record history."""

from datetime import UTC, datetime

from contextiq.store.records import ModelVersion


def row(version: str, status: str) -> ModelVersion:
    return ModelVersion(version, datetime(2026, 1, 1, tzinfo=UTC), status, {}, 1, 1, 1, 0.1)


def test_the_served_version_is_active_whatever_its_row_says() -> None:
    assert row("v2", "retired").as_served("v2").status == "active"
    assert row("v2", "rejected").as_served("v2").status == "active"


def test_a_row_recorded_active_but_not_served_reads_retired() -> None:
    assert row("v1", "active").as_served("v2").status == "retired"
    assert row("v1", "active").as_served(None).status == "retired"


def test_other_rows_keep_their_verdict() -> None:
    for status in ("rejected", "retired", "candidate"):
        assert row("v1", status).as_served("v2").status == status
