"""`bedrock://MODEL_ID?region=R[&endpoint_url=U]`: AWS Bedrock through the Converse API.

Credentials come from the standard AWS chain. botocore's own retries are off:
the scoring service retries with jitter and feeds its circuit breaker, and two
retry loops stacked would multiply the wait. Its timeouts come from the call timeout (the
URL's `timeout`): the call runs on a thread that the service's own timeout cannot stop, so
only the client's can free it. Those threads are the scorer's own, as many as its connection
pool: a slow Bedrock must not hold the threads of the loop's default executor, which the rest
of the process (model loads, the registry) uses.
"""

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from contextiq.llm.base import (
    MalformedReply,
    ScorerError,
    ScorerThrottled,
    ScorerTimeout,
    ScorerUnavailable,
)
from contextiq.llm.generative import GenerativeScorer
from contextiq.llm.prompt import Prompt

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Calls at once: the scorer's threads and its connections.
MAX_CALLS = 16
#: Longest wait for a connection; a shorter call timeout bounds it too.
CONNECT_TIMEOUT_S = 3.0

_THROTTLED = {"ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceededException"}
_TRANSIENT = {
    "ServiceUnavailableException",
    "InternalServerException",
    "ModelNotReadyException",
    "ModelTimeoutException",
}


class BedrockScorer(GenerativeScorer):
    provider = "bedrock"

    def __init__(
        self,
        model_id: str,
        region: str | None,
        endpoint_url: str | None,
        timeout_s: float,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.model = model_id
        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=min(CONNECT_TIMEOUT_S, timeout_s),
            read_timeout=timeout_s,
            max_pool_connections=MAX_CALLS,
        )
        self._threads = ThreadPoolExecutor(MAX_CALLS, thread_name_prefix="contextiq-bedrock")
        self._session: Any = boto3.session.Session(region_name=region)
        self._client: Any = self._session.client(
            "bedrock-runtime", endpoint_url=endpoint_url, config=config
        )

    async def warm_up(self) -> None:
        """Look for AWS credentials now: without any, say so at start-up, not at a first call.

        The lookup may ask the instance or container metadata service, so it runs on a thread
        and only logs (a role may yet appear); calls fail meanwhile, feeding the breaker.
        """
        if await self._on_thread(self._session.get_credentials) is None:
            log.error(
                "bedrock: no AWS credentials found (environment, config files, container or "
                "instance role); language-model scores are off until there are"
            )

    async def complete(self, prompt: Prompt) -> str:
        return await self._on_thread(partial(self._converse, prompt))

    async def _on_thread(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, work)

    def _converse(self, prompt: Prompt) -> str:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            NoCredentialsError,
            ReadTimeoutError,
        )

        try:
            response = self._client.converse(
                modelId=self.model,
                system=[{"text": prompt.system}],
                messages=[{"role": "user", "content": [{"text": prompt.user}]}],
                inferenceConfig={"maxTokens": prompt.max_output_tokens, "temperature": 0.0},
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if code in _THROTTLED or status == 429:
                raise ScorerThrottled(f"bedrock throttled: {code}") from exc
            if code in _TRANSIENT or status >= 500:
                raise ScorerUnavailable(f"bedrock unavailable: {code or status}") from exc
            raise ScorerError(f"bedrock rejected the call: {code or status}") from exc
        except NoCredentialsError as exc:  # no network problem: retrying would not help
            raise ScorerError("bedrock has no AWS credentials") from exc
        except (ConnectTimeoutError, ReadTimeoutError) as exc:
            raise ScorerTimeout(f"bedrock timed out: {exc}") from exc
        except BotoCoreError as exc:
            raise ScorerUnavailable(f"bedrock unreachable: {exc}") from exc
        except (AttributeError, TypeError, ValueError) as exc:  # botocore's parser on odd JSON
            raise MalformedReply(f"bedrock reply could not be parsed: {exc!r}") from exc
        try:
            blocks = response["output"]["message"]["content"]
            return "".join(block["text"] for block in blocks if "text" in block)
        except (KeyError, TypeError) as exc:
            raise MalformedReply("bedrock reply lacks output.message.content") from exc

    async def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._client.close()
