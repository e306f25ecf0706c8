"""What the impression batches a relay has sent cost an erasure.

An erasure takes the user's impressions out of the impression batches in the outbox. A batch
names many users, not by its key, so finding theirs reads every batch there. The relay writes
`--batches` batches of `--impressions` impressions each (one group commit's worth: a list of
`--items` items per impression, a third of them cached copies), sends them as the relay does
(`Store.claim_outbox`), then times `--erasures` erasures of users who were shown lists:

    .venv/bin/python bench/erasure_outbox.py --database-url sqlite+aiosqlite:////tmp/eo.db

Run it with another checkout on `PYTHONPATH` for the baseline in the same run.
"""

import argparse
import asyncio
import statistics
import time
import uuid

from sqlalchemy import func, select

from contextiq.events.types import ImpressionBatch, UserDeleted, served_list
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store, utcnow
from contextiq.store.tables import OutboxRow


def _batch(n: int, impressions: int, items: int, users: int) -> ImpressionBatch:
    shown = []
    for i in range(impressions):
        user = f"user-{(n * impressions + i) % users}"
        listing = served_list(
            [(f"item-{(n + i // 3 + j) % 5_000}", 1.0 - j / items) for j in range(items)],
            "v1",
            None,
            None,
            None,
        )
        shown.append((uuid.uuid4().hex, user, listing, n * 500 + i))
    return ImpressionBatch.of(shown)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--batches", type=int, default=20_000)
    parser.add_argument("--impressions", type=int, default=50)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--erasures", type=int, default=20)
    args = parser.parse_args()
    await upgrade_async(args.database_url)
    store = Store(args.database_url)
    try:
        started = time.perf_counter()
        for first in range(0, args.batches, 100):
            batches = [
                _batch(n, args.impressions, args.items, args.users)
                for n in range(first, min(first + 100, args.batches))
            ]
            await store.record_interactions((), batches)
            async with store.claim_outbox(1_000):
                pass  # sent: the relay's bus took them
        async with store.sessions() as session:
            kept = await session.scalar(select(func.count()).select_from(OutboxRow))
        print(
            f"{args.batches:,} batches of {args.impressions} impressions written and sent in"
            f" {time.perf_counter() - started:.0f} s; {kept:,} rows left in the outbox"
        )
        samples = []
        for n in range(args.erasures):
            erasure = UserDeleted(uuid.uuid4().hex, f"user-{n * 7}", utcnow())
            began = time.perf_counter()
            await store.delete_user(erasure)
            samples.append(time.perf_counter() - began)
        print(
            f"erasure: median {statistics.median(samples) * 1e3:.1f} ms,"
            f" max {max(samples) * 1e3:.1f} ms over {args.erasures}"
        )
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
