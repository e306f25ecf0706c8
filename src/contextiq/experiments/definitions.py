"""What an experiment is: named arms with weights and serving configs, and a time window."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Status = Literal["scheduled", "running", "finished"]
INTERLEAVED = "interleaved"


@dataclass(frozen=True, slots=True)
class ArmConfig:
    """How an arm serves; what it leaves unset follows the defaults."""

    ml_weight: float | None = None
    llm: bool | None = None
    #: A registered version, served as it is...
    model_version: str | None = None
    #: ...or a model family (`ml/families.py`): its newest accepted version, which the
    #: worker retrains while an experiment names it.
    model_family: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in (
                ("ml_weight", self.ml_weight),
                ("llm", self.llm),
                ("model_version", self.model_version),
                ("model_family", self.model_family),
            )
            if v is not None
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> "ArmConfig":
        raw = raw or {}
        return cls(
            raw.get("ml_weight"), raw.get("llm"), raw.get("model_version"), raw.get("model_family")
        )

    def over(self, base: "ArmConfig") -> "ArmConfig":
        """This config with `base` filling what it leaves unset (a model as one setting)."""
        pins = self.model_version is not None or self.model_family is not None
        model = self if pins else base
        return ArmConfig(
            self.ml_weight if self.ml_weight is not None else base.ml_weight,
            self.llm if self.llm is not None else base.llm,
            model.model_version,
            model.model_family,
        )


@dataclass(frozen=True, slots=True)
class Arm:
    name: str
    weight: float
    config: ArmConfig


@dataclass(frozen=True, slots=True)
class Experiment:
    name: str
    arms: tuple[Arm, ...]
    interleaving: bool
    starts_at: datetime
    ends_at: datetime | None
    created_at: datetime
    stopped_at: datetime | None = None
    #: The winner and verdict it ended with; `verdict` is None until it ends.
    winner: str | None = None
    verdict: str | None = None
    promoted: dict[str, Any] | None = None

    def status(self, now: datetime) -> Status:
        if self.stopped_at is not None or (self.ends_at is not None and now >= self.ends_at):
            return "finished"
        return "running" if now >= self.starts_at else "scheduled"

    @property
    def ends(self) -> datetime | None:
        """When it stops taking traffic: stopped, or its planned end."""
        if self.stopped_at is not None and (self.ends_at is None or self.stopped_at < self.ends_at):
            return self.stopped_at
        return self.ends_at

    def overlaps(self, other: "Experiment") -> bool:
        """Whether both could take the same traffic at some moment."""
        mine, theirs = self.ends, other.ends
        return (theirs is None or self.starts_at < theirs) and (
            mine is None or other.starts_at < mine
        )

    def arm(self, name: str) -> Arm | None:
        return next((a for a in self.arms if a.name == name), None)
