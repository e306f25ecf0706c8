"""Where an uncached recommendation's CPU goes, stage by stage, in process (no HTTP).

Calls the package's `RecommendationService.recommend` for users never asked for before, on
a copy of an imported database with a registry's active model, and adds up the process CPU
time spent in each stage it wraps: the history read, the catalogue reads, the allowed-item
mask, the model's ranking and the reasons; with `--llm`, `local://` rescoring too (the whole
of it, and within it the score cache and the stored-vector read). Run it once per code version
(PYTHONPATH) in the same minutes to compare them; CPU time is what a loaded machine distorts
least.

    PYTHONPATH=src .venv/bin/python bench/request_stages.py --database /tmp/serve/db.sqlite \
        --models /tmp/serve/models --users 500 [--llm]
"""

import argparse
import asyncio
import functools
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from contextiq.config import Settings
from contextiq.llm import local
from contextiq.recommend.request import ListRequest
from contextiq.services import build_services
from filters import users

#: The category-mean score's reason; older code (a baseline's PYTHONPATH) has none.
CATEGORY_REASON: str | None = getattr(local, "CATEGORY_REASON", None)

#: Users asked for first: connections, caches and code paths warm, as a running server's are.
WARM_USERS = 1000

Spent = defaultdict[str, float]


def timed_async(spent: Spent, name: str, call: Callable[..., Awaitable[Any]]) -> Any:
    @functools.wraps(call)
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return await call(*args, **kwargs)
        finally:
            spent[name] += time.process_time() - started

    return wrapped


def timed(spent: Spent, name: str, call: Callable[..., Any]) -> Any:
    @functools.wraps(call)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return call(*args, **kwargs)
        finally:
            spent[name] += time.process_time() - started

    return wrapped


async def run(args: argparse.Namespace) -> None:
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{args.database}",
        model_dir=args.models,
        llm_url="local://" if args.llm else "none://",
        cache_url="memory://",
        retrain_every_events=0,
        retrain_every_seconds=0,
        record_impressions=False,
    )
    services = build_services(settings)
    assert await services.models.refresh(), "no active model in --models"
    service, model = services.recommendations, services.models.model
    assert model is not None
    generation = await services.rec_cache.catalog_generation()
    request = ListRequest(10)
    rescorer = services.rescorer
    if rescorer is not None:
        await rescorer.warm_up()  # what `Services.start` runs in the background
    sample = users(args.database, WARM_USERS + args.users)
    for user in sample[:WARM_USERS]:
        await service.recommend(user, request, generation)
    spent: Spent = defaultdict(float)
    services.store.user_history = timed_async(spent, "history read", services.store.user_history)  # type: ignore[method-assign]
    service.catalog.get_many = timed_async(spent, "catalogue reads", service.catalog.get_many)  # type: ignore[method-assign]
    service.columns.mask = timed_async(spent, "allowed-item mask", service.columns.mask)  # type: ignore[method-assign]
    model.recommend = timed(spent, "model ranking", model.recommend)  # type: ignore[method-assign]
    service.explainer.anchors = timed(spent, "reasons", service.explainer.anchors)  # type: ignore[method-assign]
    if rescorer is not None:
        scores: Any = rescorer._scores  # the stages inside the rescorer
        rescorer.score_within_budget = timed_async(  # type: ignore[method-assign]
            spent, "LLM rescoring", rescorer.score_within_budget
        )
        scores.get_many = timed_async(spent, "  LLM score cache reads", scores.get_many)
        scores.put_many = timed_async(spent, "  LLM score cache writes", scores.put_many)
        if services.vectors is not None:
            services.vectors.get = timed_async(spent, "  LLM stored vectors", services.vectors.get)  # type: ignore[method-assign]
    started = time.process_time()
    llm_items = coarse = 0
    for user in sample[WARM_USERS:]:
        served = await service.recommend(user, request, generation)
        llm_items += sum(i.llm_score is not None for i in served.items)
        if CATEGORY_REASON is not None:
            coarse += sum(i.reason.startswith(CATEGORY_REASON) for i in served.items)
    total = time.process_time() - started
    print(f"{args.users} users, CPU ms per request:")
    print(f"  total {1000 * total / args.users:.3f}")
    if rescorer is not None:
        shown = 10 * args.users
        print(f"  items with LLM scores {llm_items / shown:.3f}, by category {coarse / shown:.3f}")
    for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name} {1000 * seconds / args.users:.3f}")
    await services.store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--llm", action="store_true", help="local:// rescoring, stored vectors")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
