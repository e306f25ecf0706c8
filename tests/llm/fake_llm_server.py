"""Local HTTP servers that speak the real Bedrock Converse and OpenAI wire formats.

The Bedrock server checks each request's SigV4 signature as the service does (a request whose
path, headers or body differ from what was signed is refused with a 403).

Behind both sits one scripted "model". It scores candidates by how many liked
items share their category, and it is deliberately gullible: any instruction
to "ignore previous instructions" that it finds *outside* the prompt's data
block is obeyed. A prompt that keeps content inside the block is safe from it.
"""

import hashlib
import hmac
import json
import re
import select
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

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

    A step is "ok" (the model answers), "throttle", "error" (HTTP 500), "status:NNN" (the
    provider's error reply with that status, and `retry_after`), "garbage" (prose
    instead of JSON), "huge" (the answer, then 5,000 scores of items nobody asked for:
    far more than a model held to the prompt's output tokens writes), "endless" (a 200 whose
    body never ends, counted in `sent_bytes`, until the client hangs up), "hang" (wait for
    `release`, or for the client to hang up, counted in `hang_ups`), "not-json" (a 200 whose
    body is not JSON) or "wrong-shape" (a 200 whose JSON is not the API's reply).
    """

    default: str = "ok"
    #: The `retry-after` header of a "throttle" step from the OpenAI server.
    retry_after: str = "0"
    queue: deque[str] = field(default_factory=deque)
    release: threading.Event = field(default_factory=threading.Event)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    #: Why the server refused requests before reading them (a bad signature).
    refused: list[str] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    sent_bytes: int = 0
    hang_ups: int = 0
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
        filler = [{"content_id": f"x{i}", "score": 0.5, "reason": "filler"} for i in range(5_000)]
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

    def _client_hung_up(self) -> bool:
        """The client closed the connection: it gave up on this request."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""

    def _hang(self) -> bool:
        """Wait for `release` (True) or for the client to hang up (False)."""
        while not self.script.release.wait(timeout=0.01):
            if self._client_hung_up():
                with self.script.lock:
                    self.script.hang_ups += 1
                return False
        return True

    def _send_endless(self) -> None:
        """A 200 whose chunked body goes on until the client stops reading."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b" " * 65_536
        try:
            while True:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                with self.script.lock:
                    self.script.sent_bytes += len(chunk)
        except OSError:  # the client hung up
            self.close_connection = True
            with self.script.lock:
                self.script.hang_ups += 1

    def refusal(self, raw: bytes) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        """The error the service answers a request it refuses before reading it, if any."""
        return None

    def error_reply(self, status: int) -> tuple[dict[str, Any], dict[str, str]]:
        """The provider's body and headers for an error status."""
        raise NotImplementedError

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        refused = self.refusal(raw)
        if refused is not None:
            self._send(*refused)
            return
        body = json.loads(raw or b"{}")
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
                if not self._hang():
                    return
                step = "ok"
            if step.startswith("status:"):
                status = int(step.removeprefix("status:"))
                reply, headers = self.error_reply(status)
                self._send(status, reply, {**headers, "retry-after": script.retry_after})
            elif step == "endless":
                self._send_endless()
            elif step == "not-json":
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


#: The dummy credentials the tests put in the AWS chain, as the service knows them.
AWS_ACCESS_KEY_ID = "AKIATESTTESTTESTTEST"
AWS_SECRET_ACCESS_KEY = "test-secret"
SIGV4 = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})"
)
#: Bedrock's exception name for each error status.
BEDROCK_ERRORS = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    413: "ValidationException",
    422: "ValidationException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sigv4_problem(method: str, path: str, headers: dict[str, str], body: bytes) -> str | None:
    """Why AWS would refuse this request's signature (Signature Version 4, written out from
    the specification rather than with botocore), or None when it is right."""
    match = SIGV4.fullmatch(headers.get("authorization", ""))
    if match is None:
        return "missing or malformed Authorization"
    if match["key"] != AWS_ACCESS_KEY_ID:
        return "UnrecognizedClientException"
    if match["service"] != "bedrock":  # any region: this one endpoint serves them all
        return f"credential scope {match['region']}/{match['service']}"
    signed = match["signed"].split(";")
    if not {"host", "x-amz-date"} <= set(signed) or signed != sorted(signed):
        return f"signed headers {signed}"
    raw_path, _, query = path.partition("?")
    canonical = "\n".join(
        [
            method,
            quote(raw_path, safe="/~"),  # every service but S3 encodes the sent path again
            "&".join(sorted(query.split("&"))) if query else "",
            "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed),
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{match['date']}/{match['region']}/bedrock/aws4_request"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            headers.get("x-amz-date", ""),
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + AWS_SECRET_ACCESS_KEY).encode()
    for part in (match["date"], match["region"], "bedrock", "aws4_request"):
        key = _hmac(key, part)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(expected, match["signature"]) else "InvalidSignature"


class BedrockHandler(_Handler):
    """`POST /model/{modelId}/converse`, signed with SigV4, as Bedrock's runtime takes it."""

    def refusal(self, raw: bytes) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        problem = sigv4_problem(self.command, self.path, headers, raw)
        if problem is None:
            return None
        with self.script.lock:
            self.script.refused.append(problem)
        kind = "UnrecognizedClientException" if "Unrecognized" in problem else "InvalidSignature"
        return 403, {"message": problem}, {"x-amzn-ErrorType": f"{kind}Exception"}

    def error_reply(self, status: int) -> tuple[dict[str, Any], dict[str, str]]:
        kind = BEDROCK_ERRORS.get(status, "InternalServerException")
        return {"message": f"{kind} from the test server"}, {"x-amzn-ErrorType": kind}

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

    def error_reply(self, status: int) -> tuple[dict[str, Any], dict[str, str]]:
        kind = "invalid_request_error" if status < 500 else "server_error"
        return {"error": {"message": f"HTTP {status} from the test server", "type": kind}}, {}

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
