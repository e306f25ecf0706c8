"""Adding and removing promotion rules: the table, then every replica's lists and rule books."""

from contextiq.recommend.promotions import RuleBook
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.rules.definitions import Rule
from contextiq.store.rules import RuleStore


class RuleService:
    def __init__(self, rules: RuleStore, rec_cache: RecommendationCache, book: RuleBook) -> None:
        self.rules = rules
        self.rec_cache = rec_cache
        self.book = book

    async def list(self) -> list[Rule]:
        return await self.rules.all()

    async def add(self, rule: Rule) -> Rule:
        """Store `rule` (RuleConflict if the name is taken); lists reflect it at once."""
        stored = await self.rules.add(rule)
        await self._changed()
        return stored

    async def delete(self, name: str) -> bool:
        removed = await self.rules.delete(name)
        if removed:
            await self._changed()
        return removed

    async def _changed(self) -> None:
        """Other replicas see the generation move; this one reloads even with no cache."""
        self.book.forget()
        await self.rec_cache.invalidate_catalog()
