from collections.abc import Iterator

import pytest

from contextiq.llm.embedder import MiniLMEmbedder
from tests.llm.fake_llm_server import (
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    BedrockHandler,
    FakeServer,
    OpenAIHandler,
)


@pytest.fixture
def bedrock_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    """A Converse endpoint, with dummy credentials in the standard AWS chain."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    server = FakeServer(BedrockHandler)
    yield server
    server.close()


@pytest.fixture
def openai_server() -> Iterator[FakeServer]:
    server = FakeServer(OpenAIHandler)
    yield server
    server.close()


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    """The real bundled model, loaded once for the whole session."""
    return MiniLMEmbedder()
