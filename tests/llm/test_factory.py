import pytest

from contextiq.cache.memory import MemoryCache
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
