"""Finding the poison event in a delivery: what one Kafka poll (2,000 events, the bus's
`max_records`) costs the worker when one event fails on every delivery.

Writes `--events` interactions of 500 users into a migrated database, one of them a poison
event (a weight that makes its item's popularity infinite), and times the dead-letter guard applying
the batch from its first failure (`after_failures=1`):

    .venv/bin/python bench/dead_letters.py --database-url sqlite+aiosqlite:////tmp/dead.db
"""

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta

from contextiq.cache.memory import MemoryCache
from contextiq.domain import Content, Interaction, InteractionType
from contextiq.events.types import InteractionRecorded
from contextiq.recommend.response_cache import RecommendationCache
from contextiq.store.dead_letters import DeadLetterStore
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store
from contextiq.worker.dead_letters import DeadLetterGuard
from contextiq.worker.processor import EventProcessor, Retrainer

START = datetime(2026, 6, 1, tzinfo=UTC)


async def main(url: str, events: int) -> None:
    await upgrade_async(url)
    store = Store(url)
    await store.upsert_content([Content(f"c{i}", "Title", "news") for i in range(100)])
    items = [
        Interaction(
            f"bench-{n}",
            f"u{n % 500}",
            f"c{n % 100}",
            InteractionType.LIKE,
            3.0,
            START + timedelta(seconds=n),
        )
        for n in range(events)
    ]
    items[events // 2] = Interaction("bench-poison", "u1", "c1", InteractionType.LIKE, 1e308, START)
    await store.record_interactions(items)
    processor = EventProcessor(
        store,
        RecommendationCache(MemoryCache(), 60),
        Retrainer(lambda: asyncio.sleep(0), store, 0, 0),
    )
    guard = DeadLetterGuard(processor.handle, DeadLetterStore(store), 1)
    started = time.perf_counter()
    await guard([InteractionRecorded(i) for i in items])
    took = time.perf_counter() - started
    letters = await DeadLetterStore(store).listed(10)
    print(f"{store.dialect}: {events} events, 1 poison: {took:.2f} s, {len(letters)} dead letter")
    await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--events", type=int, default=2_000)
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.events))
