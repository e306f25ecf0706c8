"""`openai://HOST:PORT/v1?model=M[&tls=1]`: any OpenAI-compatible chat-completions server.

vLLM, Ollama, llama.cpp server and LM Studio all speak this. The client's own
retries are off, for the same reason as with Bedrock, and its timeout is the call timeout
(the URL's `timeout`), so that the option bounds the call whatever timer sees it first. Its
HTTP client caps the reply's size (llm/reply_limit.py); error statuses are read by
llm/provider_status.py, as Bedrock's are.
"""

import openai

from contextiq.llm.base import MalformedReply, ScorerError, ScorerTimeout, ScorerUnavailable
from contextiq.llm.generative import GenerativeScorer
from contextiq.llm.prompt import Prompt
from contextiq.llm.provider_status import status_error
from contextiq.llm.reply_limit import capped_client

#: Local servers ignore the key, but the client insists on having one.
PLACEHOLDER_KEY = "not-needed"


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
            # The library takes an httpx client as well as its own httpx2 one.
            http_client=capped_client(timeout_s),  # type: ignore[arg-type]
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
        except openai.APIStatusError as exc:
            raise status_error(exc.status_code, exc.response.headers, exc.response.text) from exc
        except openai.APIConnectionError as exc:
            raise ScorerUnavailable(f"openai-compatible server unavailable: {exc}") from exc
        except openai.OpenAIError as exc:
            raise ScorerError(f"openai-compatible client failed: {exc}") from exc
        except ValueError as exc:  # a 200 whose body is not JSON
            raise MalformedReply(f"openai-compatible reply is not JSON: {exc}") from exc
        return _message_text(response)

    async def close(self) -> None:
        await self._client.close()
