"""An anonymous session's data, exported or erased on request (a merged one is its user's)."""

from typing import Annotated

from fastapi import APIRouter, Path

from contextiq.api.deps import UserDataDep
from contextiq.api.errors import documented
from contextiq.api.schemas import SessionDeletion, SessionExport, SessionId
from contextiq.domain import session_subject
from contextiq.security import Access, allow

router = APIRouter(tags=["sessions"], responses=documented(401, 403, 429))
SessionPath = Annotated[SessionId, Path()]


@router.delete(
    "/sessions/{session_id}", response_model=SessionDeletion, dependencies=[allow(Access.ADMIN)]
)
async def delete_session(session_id: SessionPath, user_data: UserDataDep) -> SessionDeletion:
    """Erase what a visitor's session holds that no merge moved, as `DELETE /users/{id}` does
    for a user: a session id kept in a browser can still name a person.

    A session with no data left removes nothing and still succeeds.
    """
    removed = await user_data.delete(session_subject(session_id))
    return SessionDeletion(session_id=session_id, removed=removed)


@router.get(
    "/sessions/{session_id}/export",
    response_model=SessionExport,
    dependencies=[allow(Access.ADMIN)],
)
async def export_session(session_id: SessionPath, user_data: UserDataDep) -> SessionExport:
    """Everything held under the session that no merge moved, as JSON (admin only: a session
    has no token of its own)."""
    held = await user_data.export(session_subject(session_id))
    return SessionExport.model_validate({"session_id": session_id, **held})
