"""Registry promotion rules and the candidate-vs-current comparison."""

import errno
import json
from dataclasses import replace
from pathlib import Path

import pytest

from contextiq.ml.base import Recommender
from contextiq.ml.ease import EaseConfig, EaseRecommender
from contextiq.ml.registry import ModelRegistry
from contextiq.ml.train import PROMOTION_TOLERANCE, TrainReport, is_not_worse
from tests.ml import synthetic


def model() -> Recommender:
    return EaseRecommender(EaseConfig(l2_grid=(10.0,))).fit(
        synthetic.interactions(), synthetic.catalogue()
    )


def report(fitted: Recommender, ndcg: float, promote: bool) -> TrainReport:
    return TrainReport(
        model=fitted,
        metrics={"ndcg@10": ndcg},
        current_metrics=None,
        promote=promote,
        train_seconds=0.1,
        n_users=synthetic.USERS,
        n_items=len(fitted.item_ids),
        n_interactions=len(synthetic.interactions()),
    )


def test_not_worse_rule() -> None:
    assert is_not_worse({"ndcg@10": 0.1}, None, PROMOTION_TOLERANCE)
    assert is_not_worse({"ndcg@10": 0.30}, {"ndcg@10": 0.30}, 0.0)
    assert is_not_worse({"ndcg@10": 0.295}, {"ndcg@10": 0.30}, 0.02)
    assert not is_not_worse({"ndcg@10": 0.29}, {"ndcg@10": 0.30}, 0.02)


def test_first_model_becomes_active_even_without_promotion(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    assert registry.active_version() is None
    version = registry.register(report(model(), 0.2, promote=False))
    assert registry.active_version() == version


def test_rejected_candidate_stays_inactive_and_promoted_one_takes_over(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    first = registry.register(report(model(), 0.3, promote=True))
    rejected = registry.register(report(model(), 0.1, promote=False))
    assert registry.active_version() == first
    accepted = registry.register(report(model(), 0.4, promote=True))
    assert registry.active_version() == accepted
    assert [v.version for v in registry.versions()] == sorted([first, rejected, accepted])
    assert registry.info(rejected).metrics == {"ndcg@10": 0.1}


def test_loaded_version_scores_like_the_saved_model(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    fitted = model()
    version = registry.save(fitted, report(fitted, 0.3, promote=True))
    history = {"item-1": 1.0}
    assert registry.load(version).recommend(history, 5) == fitted.recommend(history, 5)


def test_a_versions_files_are_those_its_model_reads(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    fitted = model()
    version = registry.save(fitted, report(fitted, 0.3, promote=True))
    files = registry.files(version)
    assert files and all(f.is_file() and f.is_relative_to(tmp_path) for f in files)
    assert any(f.suffix == ".npy" for f in files)  # the memory-mapped arrays are among them
    with pytest.raises(KeyError):
        registry.files("unknown")


def test_unknown_versions_and_foreign_classes_are_refused(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    with pytest.raises(KeyError):
        registry.promote("nope")
    with pytest.raises(KeyError):
        registry.load("../etc")
    version = registry.save(model(), report(model(), 0.3, promote=True))
    meta_path = tmp_path / "versions" / version / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["model_class"] = "os.system"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"outside contextiq\.ml"):
        registry.load(version)


def test_active_version_cannot_be_removed(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    active = registry.register(report(model(), 0.3, promote=True))
    old = registry.save(model(), report(model(), 0.1, promote=False))
    with pytest.raises(ValueError):
        registry.remove(active)
    registry.remove(old)
    assert [v.version for v in registry.versions()] == [active]


def test_each_family_points_at_its_newest_accepted_version(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    fitted = model()
    assert registry.family_version("ease") is None
    first = registry.save(fitted, replace(report(fitted, 0.3, promote=True), family="ease"))
    registry.accept(first)
    second = registry.save(fitted, replace(report(fitted, 0.3, promote=True), family="ease"))
    registry.accept(second)
    assert registry.info(second).family == "ease"
    assert registry.family_version("ease") == second
    assert registry.active_version() is None  # accepted for its family, not promoted
    with pytest.raises(ValueError, match="newest accepted version of ease"):
        registry.remove(second)
    registry.remove(first)
    untold = registry.save(fitted, report(fitted, 0.3, promote=True))  # saved before families
    with pytest.raises(ValueError, match="records no family"):
        registry.accept(untold)
    with pytest.raises(KeyError):
        registry.family_version("../ACTIVE")


def test_a_save_or_pointer_write_that_fails_leaves_no_partial_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk: old code left the half-written `.staging-*` folder (a model's size) and
    the pointer's temporary file behind, never cleaned up, and the next try hit them too."""
    registry = ModelRegistry(tmp_path)
    fitted = model()
    active = registry.register(report(fitted, 0.3, promote=True))
    full = OSError(errno.ENOSPC, "No space left on device")

    def half_written(path: Path) -> None:
        path.mkdir()
        (path / "part.npy").write_bytes(b"\0" * 100)
        raise full

    monkeypatch.setattr(fitted, "save", half_written)
    with pytest.raises(OSError, match="No space left"):
        registry.save(fitted, report(fitted, 0.4, promote=True))
    monkeypatch.setattr("os.fsync", lambda _: (_ for _ in ()).throw(full))
    with pytest.raises(OSError, match="No space left"):
        registry.promote(active)
    assert sorted(p.name for p in (tmp_path / "versions").iterdir()) == [active]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ACTIVE", "versions"]
    assert registry.active_version() == active
