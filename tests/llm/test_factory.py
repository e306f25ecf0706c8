import pytest

from contextiq.cache.memory import MemoryCache
from contextiq.config import InvalidSettings, load_settings
from contextiq.llm.bedrock import BedrockScorer
from contextiq.llm.factory import build_scoring_service, open_scorer, policy_from_url
from contextiq.llm.local import LocalScorer
from contextiq.llm.openai_compat import OpenAICompatScorer


def test_none_means_ml_only() -> None:
    assert open_scorer("none://") is None
    assert build_scoring_service("none://", None, MemoryCache(), 250) is None


def test_local_is_lazy_and_needs_no_network() -> None:
    scorer = open_scorer("local://")
    assert isinstance(scorer, LocalScorer)
    assert scorer.embedded_count == 0


def test_bedrock_keeps_colons_and_arns_in_the_model_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    scorer = open_scorer("bedrock://anthropic.claude-3-5-sonnet-20240620-v1:0?region=us-west-2")
    assert isinstance(scorer, BedrockScorer)
    assert scorer.model == "anthropic.claude-3-5-sonnet-20240620-v1:0"
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-v2"
    scorer = open_scorer(f"bedrock://{arn}?region=us-east-1")
    assert isinstance(scorer, BedrockScorer)
    assert scorer.model == arn


def test_openai_url_picks_http_or_https() -> None:
    plain = open_scorer("openai://localhost:11434/v1?model=llama3")
    assert isinstance(plain, OpenAICompatScorer)
    assert str(plain._client.base_url) == "http://localhost:11434/v1/"
    secure = open_scorer("openai://api.example.com:443/v1?model=gpt&tls=1", "sk")
    assert isinstance(secure, OpenAICompatScorer)
    assert str(secure._client.base_url) == "https://api.example.com/v1/"


@pytest.mark.parametrize(
    "url", ["gopher://x", "openai://localhost:1/v1", "openai:///v1?model=m", "bedrock://?region=r"]
)
def test_bad_urls_are_rejected_clearly(url: str) -> None:
    with pytest.raises(ValueError):
        open_scorer(url)


def test_policy_defaults_by_provider_and_url_overrides() -> None:
    local = policy_from_url("local://", 100)
    assert (local.budget_ms, local.batch_size, local.max_concurrency) == (100, 1_000, 64)
    assert local.cache_ttl_seconds == 0.0  # scoring from stored vectors beats the round trips
    remote = policy_from_url("openai://h:1/v1?model=m&rpm=60&tpm=90000&concurrency=2&ttl=60", 250)
    assert remote.requests_per_minute == 60
    assert remote.tokens_per_minute == 90_000
    assert remote.max_concurrency == 2
    assert remote.cache_ttl_seconds == 60.0
    assert remote.batch_size == 20


@pytest.fixture
def no_aws_region(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("openai://localhost:1/v1", "needs a host and a model"),
        ("openai://h:1/v1?model=m&rpm=ten", "rpm='ten' is not a number"),
        ("openai://h:1/v1?model=m&concurrency=0", "concurrency='0' must be at least 1"),
        ("openai://h:1/v1?model=m&timeout=0", "timeout='0' must be at least 0.01"),
        ("openai://h:1/v1?model=m&ttl=nan", "ttl='nan' must be at least 0"),
        ("openai://h:1/v1?model=m&batch=2.5", "batch=2.5 is not a whole number"),
        ("local://?batch=-1", "batch='-1' must be at least 1"),
        ("bedrock://?region=us-east-1", "needs a model id"),
        ("bedrock://anthropic.claude-v2", "needs ?region=R"),
        ("openai://h:1/v1?model=m&rmp=60", "unknown option rmp; known: "),
        ("local://?region=eu-west-1", "unknown option region; known: "),
        ("openai://h/v1?model=m&tls=y", "tls='y' is neither"),
        ("openai://h:abc/v1?model=m", "bad port"),
        ("openai://h:99999/v1?model=m", "bad port"),
        ("bedrock://m?region=r&endpoint_url=localhost:4566", "is not an http:// or https:// URL"),
        ("bedrock://m?region=r&endpoint_url=http://h:x", "bad port"),
    ],
)
def test_a_wrong_llm_url_stops_start_up_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, no_aws_region: None, url: str, message: str
) -> None:
    """Not after the migrations, in the lifespan, or at the first call (concurrency=0: never)."""
    monkeypatch.setenv("CONTEXTIQ_LLM_URL", url)
    with pytest.raises(InvalidSettings) as caught:
        load_settings()
    (line,) = str(caught.value).splitlines()
    assert line.startswith("CONTEXTIQ_LLM_URL: ") and message in line, line


@pytest.mark.parametrize(
    "url",
    [
        "openai://h:1/v1?model=m&rpm=60&concurrency=2&timeout=0.5&ttl=0",
        "openai://h:1/v1?model=m&tls=off",
        "bedrock://anthropic.claude-v2?region=eu-west-1",
        "bedrock://anthropic.claude-v2?region=eu-west-1&endpoint_url=http://localhost:4566",
        "local://",
        "none://",
    ],
)
def test_a_right_llm_url_starts(
    monkeypatch: pytest.MonkeyPatch, no_aws_region: None, url: str
) -> None:
    monkeypatch.setenv("CONTEXTIQ_LLM_URL", url)
    assert load_settings().llm_url == url


def test_bedrock_takes_its_region_from_the_aws_environment(
    monkeypatch: pytest.MonkeyPatch, no_aws_region: None
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.setenv("CONTEXTIQ_LLM_URL", "bedrock://anthropic.claude-v2")
    assert load_settings().llm_url == "bedrock://anthropic.claude-v2"
