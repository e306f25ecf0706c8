"""File-based model registry: a directory per version and atomic pointers to the ones served.

Several API replicas sharing one volume hot-swap by polling `active_version()` and
loading the version it names; writers never modify a published version in place. Each
model family also has a pointer to its newest accepted version (`family_version`), which
experiment arms and requests that name the family serve.
"""

import importlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contextiq.ml.base import Recommender
from contextiq.private_files import make_private, private_dir

if TYPE_CHECKING:  # train.py imports torch; reading the registry need not
    from contextiq.ml.train import TrainReport

log = logging.getLogger(__name__)

_ACTIVE = "ACTIVE"
_VERSIONS = "versions"
_FAMILIES = "families"
#: A save's folder until it is complete and renamed to its version (`save`).
_STAGING = ".staging-"
_ALLOWED_PREFIX = "contextiq.ml."


@dataclass(frozen=True)
class VersionInfo:
    version: str
    created_at: str
    model_class: str
    metrics: dict[str, float]
    current_metrics: dict[str, float] | None
    promote: bool
    train_seconds: float
    n_users: int
    n_items: int
    n_interactions: int
    #: Absent from versions saved before the comparison on newer events (train.py).
    compared_metrics: dict[str, float] | None = None
    trained_until: float | None = None
    #: The family it was trained as (`ml/families.py`); absent from older versions.
    family: str | None = None


#: What reading a version's record raises when the version is gone (KeyError, OSError) or its
#: meta.json is damaged (ValueError: not JSON; TypeError: not a record's fields).
UNREADABLE = (KeyError, OSError, ValueError, TypeError)


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk: nothing else would ever remove it
        Path(tmp).unlink(missing_ok=True)
        raise


def _model_class(qualified: str) -> type[Recommender]:
    module_name, _, class_name = qualified.rpartition(".")
    if not qualified.startswith(_ALLOWED_PREFIX):
        raise ValueError(f"refusing to load model class outside contextiq.ml: {qualified}")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Recommender)):
        raise ValueError(f"{qualified} is not a Recommender")
    return cls


class ModelRegistry:
    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        self._versions = model_dir / _VERSIONS
        private_dir(self._versions)

    def save(self, model: Recommender, report: "TrainReport") -> str:
        """Publish a new version (not yet active); the directory appears complete or not at all."""
        now = datetime.now(UTC)
        version = f"{now:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:8]}"
        cls = type(model)
        meta: dict[str, Any] = {
            "version": version,
            "created_at": now.isoformat(),
            "model_class": f"{cls.__module__}.{cls.__qualname__}",
            "metrics": report.metrics,
            "current_metrics": report.current_metrics,
            "promote": report.promote,
            "train_seconds": report.train_seconds,
            "n_users": report.n_users,
            "n_items": report.n_items,
            "n_interactions": report.n_interactions,
            "compared_metrics": report.compared_metrics,
            "trained_until": report.trained_until,
            "family": report.family,
        }
        staging = Path(tempfile.mkdtemp(dir=self._versions, prefix=_STAGING))
        try:
            model.save(staging / "model")
            (staging / "meta.json").write_text(json.dumps(meta, indent=2))
            make_private(staging)  # the model's own writers use the umask's modes
        except BaseException:  # a full disk, an interrupt: no half model left behind
            shutil.rmtree(staging, ignore_errors=True)
            raise
        os.replace(staging, self._versions / version)
        return version

    def check_writable(self) -> None:
        """Raise the OSError a save would (a read-only volume), before a training of minutes."""
        Path(tempfile.mkdtemp(dir=self._versions, prefix=_STAGING)).rmdir()

    def unfinished(self) -> list[str]:
        """The staging folders of saves not (yet) renamed to their version: a save in progress,
        or one whose process was killed part way (SIGKILL, the OOM killer), a model's size each."""
        return sorted(p.name for p in self._versions.glob(f"{_STAGING}*"))

    def sweep_unfinished(self) -> list[str]:
        """Remove every save's staging folder; returns the names removed.

        Only for the holder of the training lock (`worker/training.py`): every save is made
        under it, so then no live process is writing one. One that cannot be removed is
        logged and left, not a reason to stop the training that found it.
        """
        removed = []
        for name in self.unfinished():
            try:
                shutil.rmtree(self._versions / name)
            except OSError as error:
                log.warning("cannot remove the unfinished save %s: %s", name, error)
                continue
            removed.append(name)
        return removed

    def register(self, report: "TrainReport") -> str:
        """Save the report's model and make it active when the report says it may be promoted."""
        version = self.save(report.model, report)
        if report.promote or self.active_version() is None:
            self.promote(version)
        return version

    def info(self, version: str) -> VersionInfo:
        meta = json.loads((self._path(version) / "meta.json").read_text())
        return VersionInfo(**meta)

    def load(self, version: str) -> Recommender:
        info = self.info(version)
        return _model_class(info.model_class).load(self._path(version) / "model")

    def files(self, version: str) -> list[Path]:
        """The files a loaded version reads from (its arrays are memory-mapped)."""
        return sorted(p for p in (self._path(version) / "model").rglob("*") if p.is_file())

    def active_version(self) -> str | None:
        pointer = self.model_dir / _ACTIVE
        try:
            version = pointer.read_text().strip()
        except FileNotFoundError:
            return None
        return version or None

    def promote(self, version: str) -> None:
        self._path(version)
        _write_atomic(self.model_dir / _ACTIVE, version)

    def accept(self, version: str) -> None:
        """Make `version` its family's newest accepted one (it passed its comparison)."""
        family = self.info(version).family
        if family is None:
            raise ValueError(f"model version {version} records no family")
        folder = self.model_dir / _FAMILIES
        private_dir(folder)
        _write_atomic(folder / family, version)

    def family_version(self, family: str) -> str | None:
        """The family's newest accepted version, or None before one was trained."""
        if "/" in family or family.startswith("."):
            raise KeyError(f"unknown model family: {family}")
        try:
            return (self.model_dir / _FAMILIES / family).read_text().strip() or None
        except FileNotFoundError:
            return None

    def names(self) -> list[str]:
        """Every published version, oldest first, without reading its record."""
        return sorted(
            p.name for p in self._versions.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def versions(self) -> list[VersionInfo]:
        """Every published version with its metrics, oldest first."""
        return [self.info(n) for n in self.names()]

    def remove(self, version: str) -> None:
        """Delete a version that is not served (old artifacts pile up otherwise)."""
        if version == self.active_version():
            raise ValueError("cannot remove the active version")
        family = self.info(version).family
        if family is not None and version == self.family_version(family):
            raise ValueError(f"cannot remove the newest accepted version of {family}")
        shutil.rmtree(self._path(version))

    def prune(self, keep: int, spare: Collection[str] = ()) -> list[str]:
        """Remove every version but the newest `keep` and those in `spare`; returns the removed,
        oldest first. `remove` spares the active version and each family's newest accepted
        one; a version whose record cannot be read is left to the operator."""
        names = self.names()
        removed = []
        for version in names[: max(0, len(names) - keep)]:
            if version in spare:
                continue
            try:
                self.remove(version)
            except UNREADABLE:  # still served (`remove`'s ValueError), gone or damaged
                continue
            removed.append(version)
        return removed

    def _path(self, version: str) -> Path:
        path = self._versions / version
        if "/" in version or version.startswith(".") or not (path / "meta.json").exists():
            raise KeyError(f"unknown model version: {version}")
        return path
