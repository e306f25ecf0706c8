"""The real openai client and the SigV4-signed Bedrock calls against local servers speaking
their wire formats."""

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from contextiq.cache.memory import MemoryCache
from contextiq.llm.base import (
    MalformedReply,
    ScorerError,
    ScorerMisconfigured,
    ScorerRejected,
    ScorerThrottled,
    ScorerTimeout,
    ScorerUnavailable,
)
from contextiq.llm.factory import open_scorer
from contextiq.llm.generative import GenerativeScorer
from contextiq.llm.openai_compat import OpenAICompatScorer
from contextiq.llm.prompt import Prompt
from contextiq.llm.reply_limit import MAX_REPLY_BYTES, ReplyTooLarge
from contextiq.llm.service import ScoringService
from tests.conftest import until
from tests.llm.fake_llm_server import FakeServer
from tests.llm.scenario import (
    CANDIDATES,
    CLEAN,
    FAST_RETRIES,
    INJECTED,
    INJECTED_TEXT,
    SCIFI,
    USER,
)

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"


def _url(kind: str, bedrock_server: FakeServer, openai_server: FakeServer) -> str:
    if kind == "bedrock":
        return f"bedrock://{MODEL_ID}?region=us-east-1&endpoint_url=http://{bedrock_server.address}"
    return f"openai://{openai_server.address}/v1?model=llama3"


@pytest.fixture(params=["bedrock", "openai"])
async def provider(
    request: pytest.FixtureRequest, bedrock_server: FakeServer, openai_server: FakeServer
) -> AsyncIterator[tuple[GenerativeScorer, FakeServer]]:
    url = _url(request.param, bedrock_server, openai_server)
    server = bedrock_server if request.param == "bedrock" else openai_server
    scorer = open_scorer(url, api_key="sk-test")
    assert isinstance(scorer, GenerativeScorer)
    yield scorer, server
    await scorer.close()


async def test_one_listwise_call_scores_every_candidate(
    provider: tuple[GenerativeScorer, FakeServer],
) -> None:
    scorer, server = provider
    scores = await scorer.score(USER, CANDIDATES)
    assert set(scores) == {c.content_id for c in CANDIDATES}
    assert scores[SCIFI.content_id].score == 1.0
    assert scores[SCIFI.content_id].reason == "matches your taste"
    assert len(server.script.requests) == 1


async def test_bedrock_request_shape(bedrock_server: FakeServer) -> None:
    url = f"bedrock://{MODEL_ID}?region=us-east-1&endpoint_url=http://{bedrock_server.address}"
    scorer = open_scorer(url)
    assert scorer is not None
    await scorer.score(USER, CANDIDATES)
    assert bedrock_server.script.paths == [
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    ]
    body = bedrock_server.script.requests[0]
    assert body["inferenceConfig"]["temperature"] == 0.0
    assert "AWS4-HMAC-SHA256" in bedrock_server.script.headers[0]["authorization"]
    assert bedrock_server.script.refused == []  # the server checked the signature


async def test_openai_key_comes_from_the_caller(openai_server: FakeServer) -> None:
    scorer = open_scorer(f"openai://{openai_server.address}/v1?model=m", api_key="sk-secret")
    assert scorer is not None
    await scorer.score(USER, CANDIDATES)
    assert openai_server.script.headers[0]["authorization"] == "Bearer sk-secret"
    assert openai_server.script.requests[0]["model"] == "m"


async def test_garbage_reply_is_a_scorer_failure(
    provider: tuple[GenerativeScorer, FakeServer],
) -> None:
    scorer, server = provider
    server.script.default = "garbage"
    with pytest.raises(MalformedReply):
        await scorer.score(USER, CANDIDATES)


@pytest.mark.parametrize("step", ["not-json", "wrong-shape"])
async def test_a_200_that_is_not_the_apis_reply_is_a_malformed_reply(
    provider: tuple[GenerativeScorer, FakeServer], step: str
) -> None:
    """A scorer raises only ScorerErrors: a broken reply is not a crash of the provider code."""
    scorer, server = provider
    server.script.default = step
    with pytest.raises(MalformedReply):
        await scorer.score(USER, CANDIDATES)


async def test_a_reply_longer_than_its_token_limit_is_refused_unparsed(
    provider: tuple[GenerativeScorer, FakeServer],
) -> None:
    scorer, server = provider
    server.script.default = "huge"
    with pytest.raises(MalformedReply, match="longer than asked for"):
        await scorer.score(USER, CANDIDATES)


async def test_throttling_is_reported_as_throttling_without_client_retries(
    provider: tuple[GenerativeScorer, FakeServer],
) -> None:
    scorer, server = provider
    server.script.default = "throttle"
    with pytest.raises(ScorerThrottled):
        await scorer.score(USER, CANDIDATES)
    assert len(server.script.requests) == 1


async def test_server_errors_are_retryable_failures(
    provider: tuple[GenerativeScorer, FakeServer],
) -> None:
    scorer, server = provider
    server.script.default = "error"
    with pytest.raises(ScorerError) as caught:
        await scorer.score(USER, CANDIDATES)
    assert caught.value.retryable


async def test_injected_instructions_gain_nothing(
    provider: tuple[GenerativeScorer, FakeServer],
) -> None:
    scorer, _ = provider
    scores = await scorer.score(USER, CANDIDATES)
    assert scores[INJECTED.content_id].score == scores[CLEAN.content_id].score
    assert scores[INJECTED.content_id].score < 1.0


async def test_the_test_model_obeys_instructions_outside_the_delimiters(
    openai_server: FakeServer,
) -> None:
    """Control: the server really would obey an injection a naive prompt let through."""
    scorer = OpenAICompatScorer(f"http://{openai_server.address}/v1", "m", None, 5.0)
    naive = Prompt(
        system="Score these items for the user.",
        user=f'{{"content_id": "{INJECTED.content_id}", "description": "{INJECTED_TEXT}"}}',
        max_output_tokens=100,
    )
    text = await scorer.complete(naive)
    await scorer.close()
    assert f'"content_id": "{INJECTED.content_id}", "score": 1.0' in text


async def test_unreachable_server_is_a_retryable_failure() -> None:
    scorer = open_scorer("openai://127.0.0.1:9/v1?model=m")
    assert scorer is not None
    with pytest.raises(ScorerError) as caught:
        await scorer.score(USER, CANDIDATES)
    assert caught.value.retryable
    await scorer.close()


@pytest.mark.parametrize("kind", ["bedrock", "openai"])
async def test_the_clients_give_up_at_the_urls_timeout(
    kind: str, bedrock_server: FakeServer, openai_server: FakeServer
) -> None:
    """The client's own timeout is the call timeout: a longer `timeout` must not be cut short
    by a fixed one. The client gives up (ScorerTimeout, not the outer wait's TimeoutError)
    and hangs up, rather than leaving the call to run on."""
    scorer = open_scorer(f"{_url(kind, bedrock_server, openai_server)}&timeout=0.3")
    assert scorer is not None
    server = bedrock_server if kind == "bedrock" else openai_server
    server.script.default = "hang"
    with pytest.raises(ScorerTimeout) as caught:
        await asyncio.wait_for(scorer.score(USER, CANDIDATES), timeout=5)
    assert caught.value.retryable
    await until(lambda: server.script.hang_ups == 1)
    assert len(server.script.requests) == 1
    await scorer.close()


@pytest.mark.parametrize("kind", ["bedrock", "openai"])
async def test_the_services_timeout_cancels_the_call(
    kind: str, bedrock_server: FakeServer, openai_server: FakeServer
) -> None:
    """A Bedrock call used to run on a thread no timeout could stop: now the service's own
    deadline ends it, connection and all, whatever the client's timeout."""
    scorer = open_scorer(_url(kind, bedrock_server, openai_server))  # the client waits 30 s
    assert scorer is not None
    server = bedrock_server if kind == "bedrock" else openai_server
    server.script.default = "hang"
    no_retry = replace(FAST_RETRIES.retry, attempts=1)
    policy = replace(FAST_RETRIES, call_timeout_s=0.05, retry=no_retry)
    service = ScoringService(scorer, MemoryCache(), policy)
    assert await service.precompute(USER, CANDIDATES) == {}
    await until(lambda: server.script.hang_ups == 1)
    await service.close()


@pytest.mark.parametrize("kind", ["bedrock", "openai"])
@pytest.mark.parametrize(
    ("status", "error", "retryable"),
    [
        (401, ScorerMisconfigured, False),
        (403, ScorerMisconfigured, False),
        (404, ScorerMisconfigured, False),
        (400, ScorerRejected, False),
        (413, ScorerRejected, False),
        (422, ScorerRejected, False),
        (429, ScorerThrottled, True),
        (500, ScorerUnavailable, True),
        (503, ScorerUnavailable, True),
    ],
)
async def test_each_error_status_says_what_to_do(
    kind: str,
    status: int,
    error: type[ScorerError],
    retryable: bool,
    bedrock_server: FakeServer,
    openai_server: FakeServer,
) -> None:
    """A bad key or model is the operator's to fix, a refused request is served without
    scores, and only throttling and the provider's own failures are worth a retry (after
    the `Retry-After` it asked for)."""
    scorer = open_scorer(_url(kind, bedrock_server, openai_server))
    assert scorer is not None
    server = bedrock_server if kind == "bedrock" else openai_server
    server.script.default = f"status:{status}"
    server.script.retry_after = "7"
    with pytest.raises(ScorerError) as caught:
        await scorer.score(USER, CANDIDATES)
    assert type(caught.value) is error
    assert caught.value.retryable is retryable
    if retryable:
        assert caught.value.retry_after_s == 7.0
    if error is ScorerMisconfigured:
        assert "CONTEXTIQ_LLM_URL" in str(caught.value)
    assert len(server.script.requests) == 1
    await scorer.close()


async def test_a_reply_is_read_only_up_to_its_limit(
    provider: tuple[GenerativeScorer, FakeServer],
) -> None:
    """An endless reply is refused once past the limit and the connection dropped there,
    not read whole first."""
    scorer, server = provider
    server.script.default = "endless"
    with pytest.raises(ReplyTooLarge):
        await scorer.score(USER, CANDIDATES)
    await until(lambda: server.script.hang_ups == 1)
    # What socket buffers took before the client hung up, not the endless whole.
    assert server.script.sent_bytes < 32 * MAX_REPLY_BYTES
    assert len(server.script.requests) == 1


async def test_bedrock_signed_with_the_wrong_secret_is_refused_as_misconfigured(
    bedrock_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control for the server's signature check: it does refuse a bad signature."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    scorer = open_scorer(_url("bedrock", bedrock_server, bedrock_server))
    assert scorer is not None
    with pytest.raises(ScorerMisconfigured):
        await scorer.score(USER, CANDIDATES)
    assert bedrock_server.script.refused == ["InvalidSignature"]
    await scorer.close()


async def test_bedrock_signs_a_session_token(
    bedrock_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Temporary credentials (a role's) carry a token that is sent and signed."""
    monkeypatch.setenv("AWS_SESSION_TOKEN", "a-session-token")
    scorer = open_scorer(_url("bedrock", bedrock_server, bedrock_server))
    assert scorer is not None
    assert await scorer.score(USER, CANDIDATES)
    headers = bedrock_server.script.headers[0]
    assert headers["x-amz-security-token"] == "a-session-token"
    assert "x-amz-security-token" in headers["authorization"]
    await scorer.close()


async def test_bedrock_without_credentials_says_so_at_start_up_and_is_not_retried(
    bedrock_server: FakeServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("RELATIVE_URI", "FULL_URI"):
        monkeypatch.delenv(f"AWS_CONTAINER_CREDENTIALS_{name}", raising=False)
    monkeypatch.delenv("AWS_WEB_IDENTITY_TOKEN_FILE", raising=False)
    scorer = open_scorer(_url("bedrock", bedrock_server, bedrock_server))
    assert scorer is not None
    with caplog.at_level(logging.ERROR, logger="contextiq.llm.bedrock"):
        await scorer.warm_up()
    assert "no AWS credentials found" in caplog.text
    with pytest.raises(ScorerError, match="no AWS credentials") as caught:
        await scorer.score(USER, CANDIDATES)
    assert not caught.value.retryable
    assert bedrock_server.script.requests == []
    await scorer.close()


async def test_a_hung_bedrock_holds_none_of_the_loops_default_threads(
    bedrock_server: FakeServer,
) -> None:
    """The rest of the process (model loads, the registry) runs on those."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
    scorer = open_scorer(_url("bedrock", bedrock_server, bedrock_server))
    assert scorer is not None
    bedrock_server.script.default = "hang"
    call = asyncio.create_task(scorer.score(USER, CANDIDATES))
    await until(lambda: len(bedrock_server.script.requests) == 1)
    assert await asyncio.wait_for(asyncio.to_thread(lambda: "free"), timeout=2) == "free"
    bedrock_server.script.release.set()
    await call
    await scorer.close()
