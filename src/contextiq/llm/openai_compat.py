"""`openai://HOST:PORT/v1?model=M[&tls=1]`: any OpenAI-compatible chat-completions server.

vLLM, Ollama, llama.cpp server and LM Studio all speak this. The client's own
retries are off, for the same reason as with Bedrock, and its timeout is the call timeout
(the URL's `timeout`), so that the option bounds the call whatever timer sees it first.
"""

import openai

from contextiq.llm.base import ScorerError, ScorerThrottled, ScorerTimeout, ScorerUnavailable
from contextiq.llm.generative import GenerativeScorer
from contextiq.llm.prompt import Prompt

#: Local servers ignore the key, but the client insists on having one.
PLACEHOLDER_KEY = "not-needed"


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
            raise ScorerThrottled("openai-compatible server throttled") from exc
        except (openai.APIConnectionError, openai.InternalServerError) as exc:
            raise ScorerUnavailable(f"openai-compatible server unavailable: {exc}") from exc
        except openai.OpenAIError as exc:
            raise ScorerError(f"openai-compatible server rejected the call: {exc}") from exc
        if not response.choices or response.choices[0].message.content is None:
            raise ScorerError("openai-compatible reply has no message content")
        return response.choices[0].message.content

    async def close(self) -> None:
        await self._client.close()
