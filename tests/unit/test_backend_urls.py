"""Backends are opened one way: a `{scheme: factory}` registry per kind, checked at start-up."""

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from contextiq.backends import UnknownScheme
from contextiq.cache import open_cache
from contextiq.config import URL_SETTINGS, InvalidSettings, Settings, load_settings
from contextiq.events import open_bus
from contextiq.llm.factory import open_scorer
from contextiq.store.engine import create_engine, normalize_url

CONTEXTIQ = Path(sys.executable).with_name("contextiq")


@pytest.mark.parametrize(
    ("open_backend", "url", "known"),
    [
        (open_cache, "memcached://h:11211", "memory://, disk://, redis://, rediss://"),
        (open_bus, "rabbitmq://h", "local://, kafka://"),
        (open_scorer, "gpt://h/v1?model=m", "local://, bedrock://, openai://, none://"),
        (
            create_engine,
            "mysql+aiomysql://h/db",
            "sqlite://, sqlite+aiosqlite://, postgresql://, postgresql+asyncpg://",
        ),
    ],
)
def test_an_unknown_scheme_is_refused_with_the_known_ones(
    open_backend: Callable[[str], object], url: str, known: str
) -> None:
    scheme = url.split(":", 1)[0]
    with pytest.raises(UnknownScheme) as caught:
        open_backend(url)
    assert str(caught.value).endswith(f"URL scheme '{scheme}'; known: {known}")


def test_the_defaults_name_known_backends() -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    for name, registry in URL_SETTINGS.items():
        registry.factory(getattr(defaults, name))


def test_wrong_settings_are_named_one_line_each(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTEXTIQ_EVENTS_URL", "kafak://broker:9092")
    monkeypatch.setenv("CONTEXTIQ_DATABASE_URL", "postgres://db/contextiq")
    with pytest.raises(InvalidSettings) as caught:
        load_settings()
    assert str(caught.value).splitlines() == [
        "CONTEXTIQ_DATABASE_URL: unknown database URL scheme 'postgres'; known: sqlite://, "
        "sqlite+aiosqlite://, postgresql://, postgresql+asyncpg://",
        "CONTEXTIQ_EVENTS_URL: unknown events URL scheme 'kafak'; known: local://, kafka://",
    ]


def test_model_families_are_checked_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTEXTIQ_MODEL_FAMILIES", '["blend-next", "ease"]')
    assert load_settings().model_families == ["blend-next", "ease"]
    monkeypatch.setenv("CONTEXTIQ_MODEL_FAMILIES", '["blend-next", "nope"]')
    monkeypatch.setenv("CONTEXTIQ_MODEL", "mystery")
    with pytest.raises(InvalidSettings) as caught:
        load_settings()
    known = "known: blend, blend-sequence, blend-next, ease, embedding, sequence"
    assert str(caught.value).splitlines() == [
        f"CONTEXTIQ_MODEL: unknown model family 'mystery'; {known}",
        f"CONTEXTIQ_MODEL_FAMILIES: unknown model family 'nope'; {known}",
    ]


@pytest.mark.parametrize("port", ["0", "65536"])
def test_a_port_outside_1_to_65535_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, port: str
) -> None:
    """Port 0 would have served on the default port: `--port 0` read as "not given"."""
    monkeypatch.setenv("CONTEXTIQ_PORT", port)
    with pytest.raises(InvalidSettings) as caught:
        load_settings()
    assert str(caught.value).startswith("CONTEXTIQ_PORT: ")


@pytest.mark.parametrize(("days", "kept"), [("15", 15.0), ("1", 1.0), ("0", 0.0)])
def test_the_dedupe_window_is_read_in_days(
    monkeypatch: pytest.MonkeyPatch, days: str, kept: float
) -> None:
    monkeypatch.setenv("CONTEXTIQ_DEDUPE_WINDOW_DAYS", days)
    assert load_settings().dedupe_window_days == kept


@pytest.mark.parametrize("days", ["0.5", "-1"])
def test_a_dedupe_window_shorter_than_the_outbox_keeps_sent_events_is_refused(
    monkeypatch: pytest.MonkeyPatch, days: str
) -> None:
    """Ids forgotten within hours could go while the relay may still deliver their events."""
    monkeypatch.setenv("CONTEXTIQ_DEDUPE_WINDOW_DAYS", days)
    with pytest.raises(InvalidSettings) as caught:
        load_settings()
    assert str(caught.value).startswith("CONTEXTIQ_DEDUPE_WINDOW_DAYS: ")


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["keys", "list"]])
def test_a_wrong_url_stops_any_command_with_one_line(tmp_path: Path, command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTEXTIQ_")}
    env["CONTEXTIQ_LLM_URL"] = "gpt://127.0.0.1:1/v1?model=m"
    done = subprocess.run(
        [str(CONTEXTIQ), *command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        "error: CONTEXTIQ_LLM_URL: unknown LLM URL scheme 'gpt'; "
        "known: local://, bedrock://, openai://, none://"
    ]
    assert not (tmp_path / "data").exists(), "nothing may start before the settings are checked"


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        (
            "postgresql://u:p@db:5432/ciq?sslmode=require",
            "postgresql+asyncpg://u:p@db:5432/ciq?ssl=require",
        ),
        ("postgresql://u@db/ciq?ssl=verify-full", "postgresql+asyncpg://u@db/ciq?ssl=verify-full"),
        ("sqlite:///data/ciq.db", "sqlite+aiosqlite:///data/ciq.db"),
    ],
)
def test_database_urls_as_managed_services_write_them(url: str, normalized: str) -> None:
    # libpq's sslmode=, which asyncpg refuses as a keyword: every process failed to connect.
    assert normalize_url(url) == normalized
