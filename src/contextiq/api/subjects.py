"""Whom a read is for: `user_id` or `session_id` in the query, exactly one of them."""

from typing import Annotated

from fastapi import Depends, Query

from contextiq.api.errors import ApiError
from contextiq.api.schemas import SUBJECT_RULE, Identifier, SessionId
from contextiq.domain import session_subject


async def query_subject(
    user_id: Annotated[Identifier | None, Query(description="A user, or:")] = None,
    session_id: Annotated[
        SessionId | None, Query(description="An anonymous visitor's session.")
    ] = None,
) -> str:
    """The stored subject: the user id, or the session's (`domain.session_subject`)."""
    if user_id is not None and session_id is None:
        return user_id
    if session_id is not None and user_id is None:
        return session_subject(session_id)
    raise ApiError(400, "bad_request", SUBJECT_RULE)


#: The user's id, or an anonymous session's subject.
SubjectDep = Annotated[str, Depends(query_subject)]
