"""`openai://HOST:PORT/v1?model=M[&tls=1]`: any OpenAI-compatible chat-completions server.

vLLM, Ollama, llama.cpp server and LM Studio all speak this. The client's own
retries are off, for the same reason as with Bedrock, and its timeout is the call timeout
(the URL's `timeout`), so that the option bounds the call whatever timer sees it first.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import openai

from contextiq.llm.base import (
    MalformedReply,
    ScorerError,
    ScorerThrottled,
    ScorerTimeout,
    ScorerUnavailable,
)
from contextiq.llm.generative import GenerativeScorer
from contextiq.llm.prompt import Prompt

#: Local servers ignore the key, but the client insists on having one.
PLACEHOLDER_KEY = "not-needed"


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds a 429 asks us to wait: `Retry-After` in seconds or as an HTTP date."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _message_text(response: object) -> str:
    """The first choice's text. The client builds the reply without validating it, so a
    server's odd JSON (no choices, a refusal, a tool call, a list) is checked here."""
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise MalformedReply("openai-compatible reply has no choices")
    content = getattr(getattr(choices[0], "message", None), "content", None)
    if not isinstance(content, str):
        raise MalformedReply("openai-compatible reply has no message content")
    return content


class OpenAICompatScorer(GenerativeScorer):
    provider = "openai"

    def __init__(self, base_url: str, model: str, api_key: str | None, timeout_s: float) -> None:
        self.model = model
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or PLACEHOLDER_KEY,
            max_retries=0,
            timeout=timeout_s,
        )

    async def complete(self, prompt: Prompt) -> str:
        try:
            response = await self._client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": prompt.system},
                    {"role": "user", "content": prompt.user},
                ],
                temperature=0.0,
                max_tokens=prompt.max_output_tokens,
            )
        except openai.APITimeoutError as exc:
            raise ScorerTimeout("openai-compatible server timed out") from exc
        except openai.RateLimitError as exc:
            raise ScorerThrottled(
                "openai-compatible server throttled", retry_after(exc.response.headers)
            ) from exc
        except (openai.APIConnectionError, openai.InternalServerError) as exc:
            raise ScorerUnavailable(f"openai-compatible server unavailable: {exc}") from exc
        except openai.OpenAIError as exc:
            raise ScorerError(f"openai-compatible server rejected the call: {exc}") from exc
        except ValueError as exc:  # a 200 whose body is not JSON
            raise MalformedReply(f"openai-compatible reply is not JSON: {exc}") from exc
        return _message_text(response)

    async def close(self) -> None:
        await self._client.close()
