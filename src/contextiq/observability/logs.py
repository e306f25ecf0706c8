"""Log lines: JSON for collectors, readable text on a terminal, never a secret in either.

Every line carries the request id of the request it was written for (see `context`).
Structured fields travel in `extra={"fields": {...}}`: JSON lines carry them as keys, text
lines append them as `key=value`.
"""

import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from contextiq.config import Settings
from contextiq.observability.context import current_request_id
from contextiq.security.redact import install_redaction, redact


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, dict) else {}


class _RequestIdFilter(logging.Filter):
    """Stamps the current request id on the record, so any formatter can show it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        line.update(_fields(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:  # set earlier by a record factory that scrubbed it, if any
            line["exception"] = record.exc_text
        return redact(orjson.dumps(line, default=str).decode())


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = dict(_fields(record))
        request_id = getattr(record, "request_id", None)
        if request_id and "request_id" not in extra:
            extra["request_id"] = request_id
        if extra:
            head, newline, rest = line.partition("\n")
            pairs = " ".join(f"{k}={v}" for k, v in extra.items())
            line = f"{head} [{pairs}]{newline}{rest}"
        return redact(line)


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so configuring again replaces only it.

    It writes to `sys.stderr` as it is when a record comes (as logging's last resort does), not
    as it was when installed: a command run in-process (a test's CliRunner) swaps stderr and
    closes its stand-in afterwards.
    """

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stderr


def configure_logging(settings: Settings) -> None:
    """Install one stderr handler on the root logger; idempotent, leaves others' handlers."""
    install_redaction(settings)
    fmt = settings.log_format
    json_lines = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = _OurHandler()
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # Its debug lines repeat each statement with its parameters: user and session ids, which
    # logs must not keep after an erasure (docs/security.md).
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
