"""Request paths as logs may keep them: a user or session id written as its pseudonym.

Logs outlive an erasure and must not name the person (docs/security.md), so every place that
writes a request's path writes `masked_path(path)`. It reads the raw path, not the route that
matched: a request refused before routing (413), or one no route matches (404, 405), names
the person in its path as much as a served one does.
"""

from collections.abc import Callable

from contextiq.domain import session_subject
from contextiq.security.audit import user_pseudonym


def _session_pseudonym(session_id: str) -> str:
    return user_pseudonym(session_subject(session_id))


#: The path segments the API puts a person's id after (`/users/{user_id}`,
#: `/user-profile/{user_id}`, `/sessions/{session_id}`), with the pseudonym the audit log
#: writes for it. tests/security/test_logged_paths.py checks every route is covered.
NAMED_AFTER: dict[str, Callable[[str], str]] = {
    "users": user_pseudonym,
    "user-profile": user_pseudonym,
    "sessions": _session_pseudonym,
}


def masked_path(path: str) -> str:
    """`path` with each id that follows a segment of `NAMED_AFTER` replaced by its pseudonym
    (never a query string: callers leave it out, it may carry what is not ours)."""
    segments = path.split("/")
    for i in range(1, len(segments)):
        pseudonym = NAMED_AFTER.get(segments[i - 1])
        if pseudonym is not None and segments[i]:
            segments[i] = pseudonym(segments[i])
    return "/".join(segments)
