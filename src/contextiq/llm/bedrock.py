"""`bedrock://MODEL_ID?region=R[&endpoint_url=U]`: AWS Bedrock through the Converse API.

The call is Converse's REST request sent with httpx and signed with botocore's SigV4, not
boto3's client: that one blocks a thread the service's timeout cannot stop, so the URL's
deadline did not bound it, and it read a reply whole before any size check. Here the call is
a coroutine that a timeout cancels, with the OpenAI client's reply cap (llm/reply_limit.py)
and error statuses (llm/provider_status.py). Credentials come from the standard AWS chain.
There are no client retries: the scoring service retries with jitter and feeds its circuit
breaker, and two retry loops stacked would multiply the wait.
"""

import asyncio
import json
import logging
from typing import Any
from urllib.parse import quote

import httpx

from contextiq.llm.base import MalformedReply, ScorerMisconfigured, ScorerTimeout, ScorerUnavailable
from contextiq.llm.generative import GenerativeScorer
from contextiq.llm.prompt import Prompt
from contextiq.llm.provider_status import status_error
from contextiq.llm.reply_limit import capped_client

log = logging.getLogger(__name__)

#: The name Bedrock's runtime endpoints sign requests with.
SIGNING_NAME = "bedrock"


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

        self.model = model_id
        self._session: Any = boto3.session.Session(region_name=region)
        self._region: str | None = self._session.region_name
        if self._region is None:
            raise ValueError(
                "bedrock:// URL needs ?region=R (or AWS_DEFAULT_REGION, or an AWS config file)"
            )
        endpoint = endpoint_url or f"https://bedrock-runtime.{self._region}.amazonaws.com"
        self._url = f"{endpoint.rstrip('/')}/model/{quote(model_id, safe='')}/converse"
        self._credentials: Any = None
        self._client = capped_client(timeout_s)

    async def warm_up(self) -> None:
        """Look for AWS credentials now: without any, say so at start-up, not at a first call.

        The lookup may ask the instance or container metadata service, so it runs on a thread
        and only logs (a role may yet appear); calls fail meanwhile, feeding the breaker.
        """
        try:
            await self._frozen_credentials()
        except ScorerMisconfigured:
            log.error(
                "bedrock: no AWS credentials found (environment, config files, container or "
                "instance role); language-model scores are off until there are"
            )

    async def _frozen_credentials(self) -> Any:
        """The chain's credentials now; a thread, as finding or refreshing them may wait on
        the metadata service (botocore bounds that wait)."""
        if self._credentials is None:
            self._credentials = await asyncio.to_thread(self._session.get_credentials)
        if self._credentials is None:
            raise ScorerMisconfigured("bedrock has no AWS credentials (the standard AWS chain)")
        return await asyncio.to_thread(self._credentials.get_frozen_credentials)

    async def _signed_headers(self, body: bytes) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(
            method="POST", url=self._url, data=body, headers={"Content-Type": "application/json"}
        )
        SigV4Auth(await self._frozen_credentials(), SIGNING_NAME, self._region).add_auth(request)
        return dict(request.headers.items())

    async def complete(self, prompt: Prompt) -> str:
        body = json.dumps(
            {
                "system": [{"text": prompt.system}],
                "messages": [{"role": "user", "content": [{"text": prompt.user}]}],
                "inferenceConfig": {"maxTokens": prompt.max_output_tokens, "temperature": 0.0},
            }
        ).encode()
        headers = await self._signed_headers(body)
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise ScorerTimeout(f"bedrock timed out: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise ScorerUnavailable(f"bedrock unreachable: {exc!r}") from exc
        if not response.is_success:
            raise status_error(response.status_code, response.headers, response.text)
        try:
            blocks = response.json()["output"]["message"]["content"]
            return "".join(block["text"] for block in blocks if "text" in block)
        except ValueError as exc:
            raise MalformedReply(f"bedrock reply is not JSON: {exc}") from exc
        except (KeyError, TypeError) as exc:
            raise MalformedReply("bedrock reply lacks output.message.content") from exc

    async def close(self) -> None:
        await self._client.aclose()
