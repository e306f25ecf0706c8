"""The id of the request being served, visible to every log line written on its behalf."""

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"

# Ids from a proxy or client are kept when they look like ids; anything else is replaced,
# so a header can never smuggle newlines or log-breaking text into the logs.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{1,128}")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return request_id.get()


def incoming_or_new(value: bytes | None) -> str:
    """The caller's request id if it is a sane token, else a fresh one."""
    if value:
        text = value.decode("latin-1")
        if _ACCEPTABLE.fullmatch(text):
            return text
    return uuid.uuid4().hex
