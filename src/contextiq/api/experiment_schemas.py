"""Bodies of the impressions, online-metrics and experiments endpoints."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contextiq.api.schemas import Identifier, ModelFamily, SubjectIn, UtcTime

Name = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")
]
Interval = Annotated[list[float], Field(min_length=2, max_length=2)]


class ImpressionSeenIn(SubjectIn):
    """`user_id` or `session_id`: whom the answer was for."""

    recommendation_id: Identifier
    #: 1-based positions the client actually rendered.
    positions: Annotated[
        list[Annotated[int, Field(ge=1, le=100)]], Field(min_length=1, max_length=100)
    ]


class ImpressionSeenAccepted(BaseModel):
    recommendation_id: str
    status: Literal["accepted"]


class ArmConfigIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ml_weight: Annotated[float, Field(ge=0, le=1)] | None = None
    llm: bool | None = None
    model_version: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    #: Serve this family's newest accepted version, retrained while the experiment lives.
    model_family: ModelFamily | None = None

    @model_validator(mode="after")
    def _one_model(self) -> "ArmConfigIn":
        if self.model_version is not None and self.model_family is not None:
            raise ValueError("set model_version or model_family, not both")
        return self


class ArmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    weight: Annotated[float, Field(gt=0, le=1_000_000)] = 1.0
    config: ArmConfigIn = ArmConfigIn()


class ExperimentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    arms: Annotated[list[ArmIn], Field(min_length=2, max_length=10)]
    starts_at: UtcTime | None = None
    ends_at: UtcTime | None = None
    #: Team-draft interleave the two arms' lists in every answer instead of splitting users.
    interleaving: bool = False


class StopIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Make the winning arm's config the default (a pinned model version becomes the active one).
    promote: bool = False


class RateMetrics(BaseModel):
    items_shown: int
    clicks: int
    likes: int
    saves: int
    shares: int
    dislikes: int
    ctr: float
    ctr_ci: Interval
    like_rate: float
    like_rate_ci: Interval
    save_rate: float
    save_rate_ci: Interval
    share_rate: float
    share_rate_ci: Interval
    dislike_rate: float
    dislike_rate_ci: Interval
    mrr: float
    items_covered: int
    coverage: float


class OnlineMetrics(RateMetrics):
    impressions: int
    users: int


class OnlineGroup(OnlineMetrics):
    key: dict[str, str]


class OnlineMetricsResponse(BaseModel):
    by: Literal["model_version", "arm", "day"]
    since: str
    until: str
    catalogue_size: int
    groups: list[OnlineGroup]


class ArmReport(BaseModel):
    name: str
    weight: float
    config: dict[str, Any]
    users: int
    impressions: int
    clicks: int
    ctr: float
    ctr_ci: Interval
    #: Relative to the first arm (the control): ctr / control ctr - 1.
    lift: float | None
    lift_ci: Interval | None
    p_value: float | None
    #: Interleaving only: lists this arm won and tied.
    wins: int | None = None
    ties: int | None = None
    metrics: RateMetrics | None = None


class TimelinePoint(RateMetrics):
    day: str
    arm: str
    impressions: int


class ExperimentSummary(BaseModel):
    name: str
    status: Literal["scheduled", "running", "finished"]
    interleaving: bool
    control: str
    starts_at: datetime
    ends_at: datetime | None
    stopped_at: datetime | None
    promoted: dict[str, Any] | None


class ExperimentReport(ExperimentSummary):
    arms: list[ArmReport]
    #: Once it has ended, the winner and verdict it ended with (kept, whatever comes later);
    #: while it runs, as `winner_now` and `verdict_now`.
    winner: str | None
    verdict: str
    #: Computed on the data as it is now: after the end, late events can move these.
    winner_now: str | None
    verdict_now: str
    #: Chi-square test of users per arm against the weights; below 0.001 no winner is named
    #: (a sample ratio mismatch). None for interleaving or without users.
    srm_p_value: float | None
    min_impressions: int
    alpha: float
    timeline: list[TimelinePoint]


class ExperimentList(BaseModel):
    experiments: list[ExperimentSummary]
