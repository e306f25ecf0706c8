"""What one list request asks for beyond the user: length, filters, diversity."""

from dataclasses import dataclass

from contextiq.recommend.filters import NO_FILTERS, Filters


@dataclass(frozen=True, slots=True)
class ListRequest:
    limit: int
    filters: Filters = NO_FILTERS
    #: 0: rank by relevance alone; 1: each next item as unlike the ones above as possible.
    diversity: float = 0.0
    #: At most this many items of one category (None: no cap).
    max_per_category: int | None = None

    def cache_part(self) -> str:
        """Part of the response cache key: everything that shapes the list."""
        cap = "" if self.max_per_category is None else str(self.max_per_category)
        return f"{self.limit}:{self.diversity:g}:{cap}:{self.filters.cache_part()}"
