"""All runtime settings; the only module that reads the environment."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Context IQ settings, read from `CONTEXTIQ_*` variables (and `.env`)."""

    model_config = SettingsConfigDict(
        env_prefix="CONTEXTIQ_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = 8000

    database_url: str = "sqlite+aiosqlite:///data/contextiq.db"
    events_url: str = "local://"
    cache_url: str = "memory://"
    llm_url: str = "local://"
    model_dir: Path = Path("data/models")
    migrate_on_start: bool = True

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

    # Above this many items, recommendations are retrieved through an ANN index (0: always exact).
    ann_min_items: int = Field(200_000, ge=0)

    retrain_every_events: int = Field(5_000, ge=0)
    retrain_every_seconds: int = Field(3_600, ge=0)

    # Training (mlscale): the model family trained (a name in contextiq.ml.families), and the
    # memory a training may use (MB; 0: what the machine has free). Too large: refused at once.
    model: str = "blend"
    train_memory_limit_mb: int = Field(0, ge=0)

    api_key: str | None = None
    admin_key: str | None = None
    cors_origins: list[str] = Field(default_factory=list)


@lru_cache
def get_settings() -> Settings:
    """Process-wide settings, built once."""
    return Settings()
