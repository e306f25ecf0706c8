"""The catalogue: list, upsert, read, delete, similar items, categories."""

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response, status

from contextiq.api.deps import CatalogServiceDep, StoreDep
from contextiq.api.errors import ApiError, documented
from contextiq.api.filters import CSV, Expression, request_filters
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
from contextiq.security import Access, allow

router = APIRouter(tags=["content"], responses=documented(401, 403, 404, 429))
READ = [allow(Access.READ)]
CATALOG = [allow(Access.CATALOG)]
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
        available_from=c.available_from,
        available_until=c.available_until,
        hidden=c.hidden,
    )


def _not_found(content_id: str) -> ApiError:
    return ApiError(404, "content_not_found", f"content {content_id!r} does not exist")


@router.get("/content", response_model=ContentPage, dependencies=READ)
async def list_content(
    store: StoreDep,
    category: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="title search")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ContentPage:
    items, total = await store.list_content(category, q, limit, offset)
    return ContentPage(items=[_out(c) for c in items], total=total, limit=limit, offset=offset)


@router.put("/content", response_model=UpsertResult, dependencies=CATALOG)
async def upsert_content(
    catalog: CatalogServiceDep,
    items: Annotated[list[ContentIn], Body(max_length=MAX_UPSERT)],
) -> UpsertResult:
    """Insert or replace up to 1,000 items; new items are recommendable at once."""
    return UpsertResult(upserted=await catalog.upsert([i.to_content() for i in items]))


@router.get("/categories", response_model=CategoriesResponse, dependencies=READ)
async def categories(store: StoreDep) -> CategoriesResponse:
    return CategoriesResponse(
        categories=[CategoryCount(category=c, count=n) for c, n in await store.categories()]
    )


@router.get("/content/{content_id}", response_model=ContentOut, dependencies=READ)
async def get_content(content_id: Annotated[Identifier, Path()], store: StoreDep) -> ContentOut:
    content = await store.get_content(content_id)
    if content is None:
        raise _not_found(content_id)
    return _out(content)


@router.delete(
    "/content/{content_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=CATALOG
)
async def delete_content(
    content_id: Annotated[Identifier, Path()], catalog: CatalogServiceDep
) -> Response:
    """Remove an item from the catalogue; past interactions with it are kept."""
    if not await catalog.delete(content_id):
        raise _not_found(content_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/content/{content_id}/similar", response_model=SimilarResponse, dependencies=READ)
async def similar_content(
    content_id: Annotated[Identifier, Path()],
    catalog: CatalogServiceDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    categories: CSV = None,
    exclude_categories: CSV = None,
    exclude: CSV = None,
    filter: Expression = None,
) -> SimilarResponse:
    """Items like this one (by the model's embeddings, else from the same category), among
    those available now and passing the filters."""
    filters = request_filters(exclude, categories, exclude_categories, filter)
    similar = await catalog.similar(content_id, limit, filters)
    if similar is None:
        raise _not_found(content_id)
    return SimilarResponse(
        content_id=content_id,
        items=[
            SimilarItem(
                content_id=s.content.content_id,
                title=s.content.title,
                category=s.content.category,
                score=round(s.score, 4),
            )
            for s in similar
        ],
    )
