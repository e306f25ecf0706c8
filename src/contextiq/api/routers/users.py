"""A user's profile; their data exported or erased on request; a session merged into them."""

from typing import Annotated

from fastapi import APIRouter, Path

from contextiq.api.deps import SessionsDep, StoreDep, UserDataDep
from contextiq.api.errors import documented
from contextiq.api.schemas import (
    CategoryCount,
    Identifier,
    RecentItem,
    SessionMergeIn,
    SessionMergeResult,
    UserDeletion,
    UserExport,
    UserProfile,
)
from contextiq.domain import InteractionType
from contextiq.security import Access, allow

router = APIRouter(tags=["users"], responses=documented(401, 403, 429))
UserId = Annotated[Identifier, Path()]


@router.get(
    "/user-profile/{user_id}", response_model=UserProfile, dependencies=[allow(Access.OWN_READ)]
)
async def user_profile(user_id: UserId, store: StoreDep) -> UserProfile:
    """Counts come from the stored interactions (one row per event id, so none counts twice):
    a profile read right after a 202 already includes that event.

    A user with no interactions yet gets an empty profile: every user id is valid.
    """
    profile = await store.user_profile(user_id)
    counts = {t.value: profile.counts.get(t.value, 0) for t in InteractionType}
    return UserProfile(
        user_id=user_id,
        total=sum(counts.values()),
        counts=counts,
        top_categories=[CategoryCount(category=c, count=n) for c, n in profile.top_categories],
        first_seen=profile.first_seen,
        last_seen=profile.last_seen,
        recent=[
            RecentItem(
                content_id=r.content_id,
                title=r.title,
                category=r.category,
                interaction_type=InteractionType(r.interaction_type),
                occurred_at=r.occurred_at,
            )
            for r in profile.recent
        ],
    )


@router.delete("/users/{user_id}", response_model=UserDeletion, dependencies=[allow(Access.ADMIN)])
async def delete_user(user_id: UserId, user_data: UserDataDep) -> UserDeletion:
    """Erase everything held about the user, here and (through the event stream) everywhere.

    Deleting a user with no data removes nothing and still succeeds.
    """
    return UserDeletion(user_id=user_id, removed=await user_data.delete(user_id))


@router.get(
    "/users/{user_id}/export",
    response_model=UserExport,
    dependencies=[allow(Access.ADMIN_OR_OWN)],
)
async def export_user(user_id: UserId, user_data: UserDataDep) -> UserExport:
    """Everything held about the user, as JSON (admin, or the user's own token)."""
    return UserExport.model_validate({"user_id": user_id, **await user_data.export(user_id)})


@router.post(
    "/users/{user_id}/merge",
    response_model=SessionMergeResult,
    dependencies=[allow(Access.OWN_WRITE)],
)
async def merge_session(
    user_id: UserId, body: SessionMergeIn, sessions: SessionsDep
) -> SessionMergeResult:
    """Move an anonymous session's interactions to the user (when the visitor logs in).

    Idempotent: a second call finds nothing left to move, answers `moved: 0` and changes
    nothing. Events the session records later are moved by the next call.
    """
    moved = await sessions.merge(user_id, body.session_id)
    return SessionMergeResult(user_id=user_id, session_id=body.session_id, moved=moved)
