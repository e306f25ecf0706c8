"""The catalogue: list, upsert, read, delete, similar items, categories."""

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response, status

from contextiq.api.deps import ServicesDep, WriteAccess
from contextiq.api.errors import ApiError, documented
from contextiq.api.schemas import (
    CategoriesResponse,
    CategoryCount,
    ContentIn,
    ContentOut,
    ContentPage,
    Identifier,
    SimilarItem,
    SimilarResponse,
    UpsertResult,
)
from contextiq.domain import Content

router = APIRouter(tags=["content"], responses=documented(401, 404))
MAX_UPSERT = 1_000


def _out(c: Content) -> ContentOut:
    assert c.created_at is not None  # rows always carry one
    return ContentOut(
        content_id=c.content_id,
        title=c.title,
        category=c.category,
        description=c.description,
        tags=list(c.tags),
        created_at=c.created_at,
        metadata=c.metadata,
    )


@router.get("/content", response_model=ContentPage)
async def list_content(
    services: ServicesDep,
    category: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="title search")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ContentPage:
    items, total = await services.store.list_content(category, q, limit, offset)
    return ContentPage(items=[_out(c) for c in items], total=total, limit=limit, offset=offset)


@router.put("/content", response_model=UpsertResult, dependencies=[WriteAccess])
async def upsert_content(
    services: ServicesDep,
    items: Annotated[list[ContentIn], Body(max_length=MAX_UPSERT)],
) -> UpsertResult:
    """Insert or replace up to 1,000 items; new items are recommendable at once."""
    count = await services.catalog_service.upsert([i.to_content() for i in items])
    return UpsertResult(upserted=count)


@router.get("/categories", response_model=CategoriesResponse)
async def categories(services: ServicesDep) -> CategoriesResponse:
    return CategoriesResponse(
        categories=[
            CategoryCount(category=c, count=n) for c, n in await services.store.categories()
        ]
    )


@router.get("/content/{content_id}", response_model=ContentOut)
async def get_content(
    content_id: Annotated[Identifier, Path()], services: ServicesDep
) -> ContentOut:
    content = await services.store.get_content(content_id)
    if content is None:
        raise ApiError(404, "content_not_found", f"content {content_id!r} does not exist")
    return _out(content)


@router.delete(
    "/content/{content_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[WriteAccess]
)
async def delete_content(
    content_id: Annotated[Identifier, Path()], services: ServicesDep
) -> Response:
    """Remove an item from the catalogue; past interactions with it are kept."""
    if not await services.catalog_service.delete(content_id):
        raise ApiError(404, "content_not_found", f"content {content_id!r} does not exist")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/content/{content_id}/similar", response_model=SimilarResponse)
async def similar_content(
    content_id: Annotated[Identifier, Path()],
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> SimilarResponse:
    """Items like this one: by the model's embeddings, else from the same category."""
    content = await services.store.get_content(content_id)
    if content is None:
        raise ApiError(404, "content_not_found", f"content {content_id!r} does not exist")
    model = services.models.model
    items: list[SimilarItem] = []
    if model is not None and model.has_item(content_id):
        ranked = model.similar_items(content_id, limit * 2)
        found = await services.store.get_contents([i for i, _ in ranked])
        items = [
            SimilarItem(
                content_id=i, title=found[i].title, category=found[i].category, score=round(s, 4)
            )
            for i, s in ranked
            if i in found
        ][:limit]
    if not items:
        same, _ = await services.store.list_content(content.category, None, limit + 1, 0)
        items = [
            SimilarItem(content_id=c.content_id, title=c.title, category=c.category, score=0.0)
            for c in same
            if c.content_id != content_id
        ][:limit]
    return SimilarResponse(content_id=content_id, items=items)
