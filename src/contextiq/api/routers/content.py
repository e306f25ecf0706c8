"""The catalogue: list, upsert, read, delete, similar items, categories."""

import base64
import binascii
from datetime import datetime
from typing import Annotated

import orjson
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
from contextiq.domain import Content, as_utc
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


def _cursor(c: Content) -> str:
    """The item a page ended on, opaque to clients: its listing key, base64url JSON."""
    assert c.created_at is not None
    key = orjson.dumps([c.created_at.isoformat(), c.content_id])
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def _after(cursor: str) -> tuple[datetime, str]:
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        created, content_id = key
        return as_utc(datetime.fromisoformat(created)), str(content_id)
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError, OverflowError):
        raise _bad_cursor("not a cursor this listing gave: start again without one") from None


def _bad_cursor(message: str) -> ApiError:
    return ApiError(400, "invalid_cursor", message)


def _not_found(content_id: str) -> ApiError:
    return ApiError(404, "content_not_found", f"content {content_id!r} does not exist")


@router.get("/content", response_model=ContentPage, dependencies=READ, responses=documented(400))
async def list_content(
    store: StoreDep,
    category: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="title search")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=400,
            description="a page's `next_cursor`: the page after it, as fast at any depth",
        ),
    ] = None,
) -> ContentPage:
    if cursor is not None and offset:
        raise _bad_cursor("give a cursor or an offset, not both")
    after = None if cursor is None else _after(cursor)
    items, total = await store.list_content(category, q, limit + 1, offset, after)
    page = items[:limit]
    return ContentPage(
        items=[_out(c) for c in page],
        total=total,
        limit=limit,
        offset=offset,
        next_cursor=_cursor(page[-1]) if len(items) > limit else None,
    )


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
