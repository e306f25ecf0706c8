"""Local HTTP servers that speak the real Bedrock Converse and OpenAI wire formats.

Behind both sits one scripted "model". It scores candidates by how many liked
items share their category, and it is deliberately gullible: any instruction
to "ignore previous instructions" that it finds *outside* the prompt's data
block is obeyed. A prompt that keeps content inside the block is safe from it.
"""

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INJECTION = re.compile(r"ignore (all )?previous instructions", re.IGNORECASE)
DATA_BLOCK = re.compile(r"<data-([0-9a-f]+)>\s*(\{.*?\})\s*</data-\1>", re.DOTALL)
ID_MENTION = re.compile(r'"content_id"\s*:\s*"([^"]+)"')


def obedient_model(prompt: str) -> str:
    """The model's reply text for a whole prompt (system and user text joined)."""
    blocks = DATA_BLOCK.findall(prompt)
    outside = DATA_BLOCK.sub(" ", prompt)
    liked: list[dict[str, Any]] = []
    candidates: list[dict[str, Any]] = []
    for _, body in blocks:
        data = json.loads(body)
        liked += data.get("liked_recently", [])
        candidates += data.get("candidates", [])
    liked_categories = [item["category"] for item in liked]
    scores = {
        c["content_id"]: 0.2 + 0.8 * liked_categories.count(c["category"]) / max(1, len(liked))
        for c in candidates
    }
    for match in INJECTION.finditer(outside):
        mentioned = ID_MENTION.findall(outside[: match.start()])
        if mentioned:
            scores[mentioned[-1]] = 1.0
    reply = [
        {"content_id": cid, "score": round(s, 4), "reason": "matches your taste"}
        for cid, s in scores.items()
    ]
    return json.dumps(reply)


@dataclass
class Script:
    """What the server does next: replies are popped from `queue`, else `default`.

    A step is "ok" (the model answers), "throttle", "error" (HTTP 500), "garbage" (prose
    instead of JSON), "huge" (the answer, then 50,000 scores of items nobody asked for:
    megabytes no model held to the prompt's output tokens writes), "hang" (wait for
    `release`), "not-json" (a 200 whose body is not JSON) or "wrong-shape" (a 200 whose JSON
    is not the API's reply).
    """

    default: str = "ok"
    #: The `retry-after` header of a "throttle" step from the OpenAI server.
    retry_after: str = "0"
    queue: deque[str] = field(default_factory=deque)
    release: threading.Event = field(default_factory=threading.Event)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_step(self) -> str:
        with self.lock:
            return self.queue.popleft() if self.queue else self.default


GARBAGE = "Sure! Here are my thoughts on these movies: the first one is great."


def model_text(step: str, prompt: str) -> str:
    """The reply text of an "ok", "garbage" or "huge" step."""
    if step == "garbage":
        return GARBAGE
    text = obedient_model(prompt)
    if step == "huge":
        filler = [{"content_id": f"x{i}", "score": 0.5, "reason": "filler"} for i in range(50_000)]
        return json.dumps(json.loads(text) + filler)
    return text


class _Handler(BaseHTTPRequestHandler):
    script: Script
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _send(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._send_bytes(status, json.dumps(body).encode(), headers)

    def _send_bytes(
        self, status: int, payload: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        script = self.script
        with script.lock:
            script.requests.append(body)
            script.headers.append({k.lower(): v for k, v in self.headers.items()})
            script.paths.append(self.path)
            script.in_flight += 1
            script.max_in_flight = max(script.max_in_flight, script.in_flight)
        try:
            step = script.next_step()
            if step == "hang":
                script.release.wait(timeout=10)
                step = "ok"
            if step == "not-json":
                self._send_bytes(200, b'{"choices": [{"message": ')
            elif step == "wrong-shape":
                self._send(200, {"choices": "none", "output": "none"})
            else:
                self.respond(step, body)
        finally:
            with script.lock:
                script.in_flight -= 1

    def respond(self, step: str, body: dict[str, Any]) -> None:
        raise NotImplementedError


class BedrockHandler(_Handler):
    """`POST /model/{modelId}/converse`, as boto3's bedrock-runtime client sends it."""

    def respond(self, step: str, body: dict[str, Any]) -> None:
        if not re.fullmatch(r"/model/[^/]+/converse", self.path):
            self._send(404, {"message": f"no route {self.path}"})
            return
        if step == "throttle":
            self._send(
                429,
                {"message": "Too many requests, please wait before trying again."},
                {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/"},
            )
            return
        if step == "error":
            self._send(
                500,
                {"message": "Internal server error"},
                {"x-amzn-ErrorType": "InternalServerException"},
            )
            return
        system = " ".join(block["text"] for block in body.get("system", []))
        user = " ".join(
            block["text"] for message in body["messages"] for block in message["content"]
        )
        text = model_text(step, system + "\n" + user)
        self._send(
            200,
            {
                "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 100, "outputTokens": 50, "totalTokens": 150},
                "metrics": {"latencyMs": 5},
            },
        )


class OpenAIHandler(_Handler):
    """`POST /v1/chat/completions`, as the openai client sends it."""

    def respond(self, step: str, body: dict[str, Any]) -> None:
        if self.path != "/v1/chat/completions":
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        if step == "throttle":
            self._send(
                429,
                {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}},
                {"retry-after": self.script.retry_after},
            )
            return
        if step == "error":
            self._send(500, {"error": {"message": "server error", "type": "server_error"}})
            return
        prompt = "\n".join(m["content"] for m in body["messages"])
        text = model_text(step, prompt)
        self._send(
            200,
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
            },
        )


class FakeServer:
    """A threaded HTTP server on an ephemeral port, stopped by `close`."""

    def __init__(self, handler: type[_Handler]) -> None:
        self.script = Script()
        bound = type(handler.__name__, (handler,), {"script": self.script})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), bound)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def close(self) -> None:
        self.script.release.set()
        self._server.shutdown()
        self._server.server_close()
