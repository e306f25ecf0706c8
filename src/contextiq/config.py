"""All runtime settings: every `CONTEXTIQ_*` setting of the product is read here.

Elsewhere the process reads only what other libraries own (`PROMETHEUS_MULTIPROC_DIR`, the AWS
variables whose values the log scrubber hides).
"""

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from limits import parse
from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from contextiq.backends import SchemeRegistry
from contextiq.cache import CACHES
from contextiq.events import BUSES, check_bus_url
from contextiq.events.relay import SENT_ROWS_KEPT
from contextiq.llm.factory import SCORERS, check_url
from contextiq.store.engine import DATABASES

#: Each URL setting and the registry of the backends it may name.
URL_SETTINGS: dict[str, SchemeRegistry[object]] = {
    "database_url": DATABASES,
    "events_url": BUSES,
    "cache_url": CACHES,
    "llm_url": SCORERS,
}

ENV_PREFIX = "CONTEXTIQ_"


class InvalidSettings(ValueError):
    """Settings that cannot start a process: one line per wrong setting, naming its variable."""


#: The model family served and trained unless `CONTEXTIQ_MODEL` names another
#: (`contextiq.ml.families`, which this module imports only to check another name).
DEFAULT_MODEL = "blend"

#: Shortest HS256 secret accepted: RFC 7518 asks for a key as long as the hash (32 bytes).
MIN_JWT_SECRET_BYTES = 32


class Settings(BaseSettings):
    """Context IQ settings, read from `CONTEXTIQ_*` variables (and `.env`)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    database_url: str = "sqlite+aiosqlite:///data/contextiq.db"
    events_url: str = "local://"
    cache_url: str = "memory://"
    llm_url: str = "local://"
    model_dir: Path = Path("data/models")
    migrate_on_start: bool = True
    # One process per host reads the SQLite file and the model's files through this often
    # (seconds; 0: never), so that a host reclaiming idle page cache does not send request
    # reads to the disk.
    keep_cached_seconds: float = Field(20.0, ge=0)

    cache_ttl_seconds: int = Field(300, ge=0)
    cache_max_users: int = Field(100_000, ge=1)

    # Interaction weights: view < like < save < share; dislike and skip push away.
    weight_view: float = 1.0
    weight_like: float = 3.0
    weight_save: float = 4.0
    weight_share: float = 5.0
    weight_dislike: float = -4.0
    weight_skip: float = -1.0
    # A view's weight grows with watch time: weight_view * min(cap, 1 + duration / unit).
    view_duration_unit_seconds: float = Field(60.0, gt=0)
    view_duration_cap: float = Field(3.0, ge=1)

    # The ML share of `w*ml + (1-w)*llm`; see `## Language-model scoring` in docs/benchmarks.md.
    ml_weight: float = Field(0.6, ge=0, le=1)
    llm_budget_ms: int = Field(250, ge=0)
    llm_top_k: int = Field(20, ge=0, le=200)
    llm_api_key: str | None = None

    # Business rules (docs/rules.md): the defaults of `diversity=` (0: relevance alone, up to 1)
    # and `max_per_category=` (unset: no cap) on GET /recommendations.
    diversity: float = Field(0.0, ge=0, le=1)
    max_per_category: int | None = Field(None, ge=1)

    # From this many items, recommendations come from candidates (the model's saved ANN index;
    # 0: always exact).
    ann_min_items: int = Field(50_000, ge=0)

    # Counted across every worker, in the database (`training_count`); a restart keeps it.
    retrain_every_events: int = Field(5_000, ge=0)
    retrain_every_seconds: int = Field(3_600, ge=0)

    # A batch the worker failed to apply this many times in a row is applied in halves, down to
    # single events, and each event that still fails goes to the `dead_letters` table
    # (`contextiq dead-letters`), so one poison event cannot stop delivery.
    dead_letter_after_failures: int = Field(3, ge=1)

    # Training (mlscale): the model family trained (a name in contextiq.ml.families), and the
    # memory a training may use (MB; 0: what the machine, within the container's memory limit,
    # has free). Too large: refused at once.
    model: str = DEFAULT_MODEL
    # More families the worker keeps trained after it, for requests that name one
    # (`?model_family=`, e.g. an "up next" shelf on blend-next); a JSON list.
    model_families: list[str] = Field(default_factory=list)
    train_memory_limit_mb: int = Field(0, ge=0)
    # A round learns from the events of this many days up to the newest stored one (0: every
    # stored event), so its time and memory stop growing with the history kept.
    training_window_days: float = Field(0.0, ge=0)

    # Experiments: impressions, attribution, online metrics and A/B tests (docs/experiments.md).
    # Off only to measure what recording costs; answers carry a recommendation_id either way.
    record_impressions: bool = True
    # An interaction without a recommendation_id counts for the user's latest impression of
    # the item within this many hours.
    attribution_window_hours: float = Field(24.0, gt=0, le=24 * 90)
    # A click or seen report applied before the impression it names waits this long for it
    # (parked), then is dropped and counted (contextiq_parked_reports_expired_total).
    attribution_wait_seconds: float = Field(300.0, gt=0, le=86_400)
    # No verdict before every arm has this many impressions (interleaving: decided lists).
    experiment_min_impressions: int = Field(1_000, ge=1)
    experiment_min_interleaved: int = Field(200, ge=1)
    # ... and this many users: a CTR's variance is estimated over users, and over one user
    # it is 0, so any difference would look certain.
    experiment_min_users: int = Field(30, ge=2)
    # Significance level of the verdict's tests (Bonferroni-split across arms).
    experiment_alpha: float = Field(0.01, gt=0, lt=0.5)

    # Anonymous sessions never merged into a user are forgotten once idle this many days (no
    # interaction, no list shown); 0 keeps them (docs/architecture.md, "Anonymous sessions").
    session_retention_days: float = Field(30.0, ge=0)

    # The worker applies each event once by its id (`processed_events`) and forgets an id
    # this many days after applying it; an event delivered again later would count twice,
    # so this must exceed the longest a delivery can come again: with Kafka the topic's
    # retention plus its segment age (7 + 7 days by default). 0 keeps ids for good.
    dedupe_window_days: float = Field(15.0, ge=0)

    # Security (docs/security.md)
    # Bootstrap keys: a client and an admin key from the environment, next to stored keys.
    api_key: str | None = None
    admin_key: str | None = None
    #: Every route but GET /api/v1/health and the web UI needs a key or token.
    auth_required: bool = False
    #: `serve` binds to a non-loopback address with auth off only when this is set.
    allow_open: bool = False
    jwt_secret: SecretStr | None = None
    jwt_jwks_file: Path | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    #: Per key, token subject or (without credentials) client address, e.g. `100/second`.
    rate_limit: str | None = None
    #: Per client address whatever the credentials, e.g. `1000/minute`.
    rate_limit_per_ip: str | None = None
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    #: How long a replica trusts its copy of a stored key (a revocation takes this long).
    key_cache_seconds: float = Field(5.0, ge=0)
    cors_origins: list[str] = Field(default_factory=list)

    # Observability: logs, request ids, Prometheus metrics (see DEPLOYMENT.md, Monitoring).
    log_level: str = Field("INFO", pattern=r"(?i)^(debug|info|warning|error)$")
    # auto: JSON lines unless stderr is a terminal (readable text there).
    log_format: Literal["auto", "json", "text"] = "auto"
    metrics_enabled: bool = True
    # How often gauges read from the database and the live model are refreshed.
    metrics_sample_seconds: float = Field(10.0, gt=0)
    # `contextiq worker` serves /metrics and /live on this port when above 0 (the API serves
    # both itself).
    worker_metrics_port: int = Field(0, ge=0, le=65535)

    @field_validator(*URL_SETTINGS)
    @classmethod
    def _known_scheme(cls, url: str, info: ValidationInfo) -> str:
        """A backend URL must name a registered scheme: fail at start-up, not on first use."""
        assert info.field_name is not None
        URL_SETTINGS[info.field_name].factory(url)
        return url

    @field_validator("events_url")
    @classmethod
    def _events_url(cls, url: str) -> str:
        """Then a Kafka URL's parameters: a misspelt one would otherwise be ignored."""
        check_bus_url(url)
        return url

    @field_validator("llm_url")
    @classmethod
    def _llm_url(cls, url: str) -> str:
        """Then the provider's parts and options: a missing model or region, or `rpm=ten`,
        stops the process here rather than after the migrations or at the first call."""
        check_url(url)
        return url

    @field_validator("rate_limit", "rate_limit_per_ip")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse(value)
            except ValueError as exc:
                raise ValueError(f"not a rate like `100/second`: {value!r}") from exc
        return value

    @field_validator("model", "model_families")
    @classmethod
    def _known_families(cls, value: str | list[str]) -> str | list[str]:
        names = [value] if isinstance(value, str) else value
        if any(name != DEFAULT_MODEL for name in names):
            # Imported only then: the model families bring PyTorch (a second at start-up).
            from contextiq.ml.families import known_family

            for name in names:
                known_family(name)
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        if "*" in value:
            raise ValueError("list the allowed origins; `*` is not accepted")
        return value

    @field_validator("dedupe_window_days")
    @classmethod
    def _dedupe_window(cls, days: float) -> float:
        """Never shorter than the outbox keeps sent rows: a window of minutes would forget
        ids while the relay could still deliver their events again."""
        if days > 0 and timedelta(days=days) < SENT_ROWS_KEPT:
            raise ValueError(
                f"0 keeps ids for good; else at least {SENT_ROWS_KEPT.days} day, as long as the"
                " outbox keeps sent events, and above the Kafka topic's retention"
                ' (DEPLOYMENT.md, "Event deduplication")'
            )
        return days

    @model_validator(mode="after")
    def _jwt(self) -> Self:
        if self.jwt_secret is not None and self.jwt_jwks_file is not None:
            raise ValueError("set CONTEXTIQ_JWT_SECRET or CONTEXTIQ_JWT_JWKS_FILE, not both")
        secret = self.jwt_secret
        if secret is not None and len(secret.get_secret_value().encode()) < MIN_JWT_SECRET_BYTES:
            raise ValueError(f"CONTEXTIQ_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes")
        if self.jwt_jwks_file is not None and not self.jwt_jwks_file.is_file():
            raise ValueError(f"CONTEXTIQ_JWT_JWKS_FILE {self.jwt_jwks_file} is not a file")
        return self


def load_settings() -> Settings:
    """Settings from the environment, or `InvalidSettings` saying which variables are wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False, include_input=False):
            message = error["msg"].removeprefix("Value error, ")
            if error["loc"]:  # a whole-model check names its variables in the message
                message = ENV_PREFIX + "_".join(map(str, error["loc"])).upper() + ": " + message
            lines.append(message)
        raise InvalidSettings("\n".join(lines)) from None


@lru_cache
def get_settings() -> Settings:
    """Process-wide settings, built once."""
    return load_settings()
