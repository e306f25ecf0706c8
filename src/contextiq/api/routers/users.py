"""GET /user-profile/{user_id}: what a user did and what they like."""

from typing import Annotated

from fastapi import APIRouter, Path

from contextiq.api.deps import StoreDep
from contextiq.api.schemas import CategoryCount, Identifier, RecentItem, UserProfile
from contextiq.domain import InteractionType

router = APIRouter(tags=["users"])


@router.get("/user-profile/{user_id}", response_model=UserProfile)
async def user_profile(user_id: Annotated[Identifier, Path()], store: StoreDep) -> UserProfile:
    """Counts come from the worker's applied events, so no event counts twice.

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
