"""Request filters as query parameters, shared by the list endpoints (docs/rules.md)."""

from typing import Annotated

from fastapi import Query

from contextiq.api.errors import ApiError
from contextiq.recommend.filters import Filters
from contextiq.rules.expression import MAX_LENGTH, FilterError, parse

CSV = Annotated[str | None, Query(max_length=10_000, description="comma-separated")]
Expression = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_LENGTH,
        description='an expression, e.g. metadata.language == "en" and metadata.price < 20',
    ),
]
MAX_IDS = 1_000


def invalid_filter(exc: FilterError) -> ApiError:
    """A 400 naming where the expression went wrong."""
    details = {"message": exc.message, "position": exc.position}
    return ApiError(400, "invalid_filter", f"filter: {exc}", details)


def checked(expression: str | None) -> str | None:
    """The expression as given, once it parses (400 otherwise)."""
    if expression is not None:
        try:
            parse(expression)
        except FilterError as exc:
            raise invalid_filter(exc) from None
    return expression


def _split(value: str | None, name: str) -> tuple[str, ...]:
    parts = tuple(dict.fromkeys(p.strip() for p in (value or "").split(",") if p.strip()))
    if len(parts) > MAX_IDS:
        raise ApiError(400, "bad_request", f"{name}: at most {MAX_IDS} values")
    return parts


def request_filters(
    exclude: str | None,
    categories: str | None,
    exclude_categories: str | None,
    expression: str | None,
    category: str | None = None,
) -> Filters:
    """One request's filters; `category` (a single one, kept for old clients) joins `categories`."""
    wanted = _split(categories, "categories")
    if category:
        wanted = tuple(dict.fromkeys((*wanted, category)))
    return Filters(
        exclude=frozenset(_split(exclude, "exclude")),
        categories=wanted,
        exclude_categories=_split(exclude_categories, "exclude_categories"),
        expression=checked(expression),
    )
