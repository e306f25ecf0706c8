"""Secrets never leave the process in logs, error bodies or /health.

`install_redaction(settings)` collects every configured secret (keys, the JWT secret, the
language-model key, passwords inside URLs, AWS credentials from the environment) and wraps the
logging record factory so each record's message and traceback are scrubbed once, whatever
handler or formatter writes them. `redact(text)` scrubs anything else sent out.
"""

import logging
import os
import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

from contextiq.config import Settings

MASK = "***"
#: Credentials in URLs and stored keys, whether or not this process was told about them.
_PATTERNS = (
    re.compile(r"(?<=://)([^/@\s:]*):([^/@\s]+)@"),
    re.compile(r"\bciq_[0-9a-f]{12}_[A-Za-z0-9_\-]{43}\b"),
)
_AWS_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")
_MIN_SECRET = 4

_secrets: tuple[str, ...] = ()
_installed = False


def _url_password(url: str) -> Iterable[str]:
    try:
        password = urlsplit(url).password
    except ValueError:
        return ()
    return (password, unquote(password)) if password else ()


def secrets_of(settings: Settings) -> set[str]:
    found = {settings.api_key, settings.admin_key, settings.llm_api_key}
    if settings.jwt_secret is not None:
        found.add(settings.jwt_secret.get_secret_value())
    for url in (settings.database_url, settings.cache_url, settings.events_url, settings.llm_url):
        found.update(_url_password(url))
    found.update(os.environ.get(name) for name in _AWS_ENV)
    return {s for s in found if s and len(s) >= _MIN_SECRET}


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _PATTERNS[0].sub(rf"\1:{MASK}@", text)
    return _PATTERNS[1].sub(MASK, text)


def install_redaction(settings: Settings) -> None:
    """Scrub every log record from now on; more settings add their secrets to the list."""
    global _secrets, _installed
    _secrets = tuple(sorted(set(_secrets) | secrets_of(settings), key=len, reverse=True))
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def scrubbed(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it for the handler to report
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(scrubbed)
