"""A ceiling on the bytes a provider reply may bring into memory, enforced while reading.

A listwise reply is a few kilobytes; a server that misbehaves (or an endless stream) must not
be read whole before being refused. The ceiling sits in the HTTP transport, so it bounds every
body the client reads, error bodies included, whichever library drives the client.
"""

from collections.abc import AsyncIterator

import httpx

from contextiq.llm.base import MalformedReply

#: Far above any reply a prompt's output-token limit allows, far below what hurts a process.
MAX_REPLY_BYTES = 1024 * 1024
#: Longest wait for a connection; a shorter call timeout bounds it too.
CONNECT_TIMEOUT_S = 3.0


class ReplyTooLarge(MalformedReply):
    """The reply passed MAX_REPLY_BYTES; the connection was dropped there."""


class _CappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        read = 0
        async for chunk in self._inner:
            read += len(chunk)
            if read > self._limit:
                raise ReplyTooLarge(f"reply is longer than {self._limit} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class CappedTransport(httpx.AsyncBaseTransport):
    """Wraps a transport so that reading a body past `limit` bytes raises ReplyTooLarge."""

    def __init__(self, inner: httpx.AsyncBaseTransport, limit: int = MAX_REPLY_BYTES) -> None:
        self._inner = inner
        self._limit = limit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_CappedStream(response.stream, self._limit),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def capped_client(timeout_s: float, limit: int = MAX_REPLY_BYTES) -> httpx.AsyncClient:
    """An HTTP client for provider calls: the call timeout, and replies capped at `limit`.

    Replies are asked for uncompressed: the cap counts the bytes that arrive, and a compressed
    body could grow far past it when decoded.
    """
    return httpx.AsyncClient(
        transport=CappedTransport(httpx.AsyncHTTPTransport(), limit),
        timeout=httpx.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s)),
        headers={"accept-encoding": "identity"},
    )
