"""Walking the whole catalogue listing (`GET /content`) by offset and by cursor, at 100,000 items.

A client that syncs the catalogue reads every page. An offset page reads every row before
it, so the walk grows with the square of the catalogue; a cursor page starts at its key in
the listing's index. Pages come from the package's own `Store.list_content`, what the route
calls (the route adds only the cursor's encoding), on a new database filled with the demo
generator's items (deterministic; created times in whole seconds, so many share one).

    .venv/bin/python bench/content_listing.py [--items 100000] [--limit 200] [--rounds 2] \\
        [--category CATEGORY] [--database-url URL] [--walks offset,cursor]

Each round walks by offset, then by cursor, and checks both walks saw the same items in the
same order. Prints each walk's total and its pages' median and slowest time. `--walks offset`
runs on code from before cursors (a worktree on PYTHONPATH) as well.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from contextiq.data.demo import demo_data
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store

Walk = tuple[list[str], list[float]]


async def fill(store: Store, items: int) -> None:
    data = demo_data(seed=42, n_items=items, n_users=1)
    for start in range(0, items, 5_000):
        await store.upsert_content(data.contents(start, min(items, start + 5_000)))


async def by_offset(store: Store, category: str | None, limit: int) -> Walk:
    seen: list[str] = []
    pages: list[float] = []
    while True:
        started = time.perf_counter()
        page, _ = await store.list_content(category, None, limit, len(seen))
        pages.append(time.perf_counter() - started)
        if not page:
            return seen, pages
        seen += [c.content_id for c in page]


async def by_cursor(store: Store, category: str | None, limit: int) -> Walk:
    seen: list[str] = []
    pages: list[float] = []
    after: tuple[datetime, str] | None = None
    while True:
        started = time.perf_counter()
        page, _ = await store.list_content(category, None, limit, 0, after)
        pages.append(time.perf_counter() - started)
        if not page:
            return seen, pages
        seen += [c.content_id for c in page]
        last = page[-1]
        assert last.created_at is not None
        after = (last.created_at, last.content_id)


def report(name: str, pages: list[float]) -> float:
    total = sum(pages)
    print(
        f"  {name:>6}: {total:7.2f} s for {len(pages)} pages;"
        f" page median {statistics.median(pages) * 1000:6.1f} ms,"
        f" slowest {max(pages) * 1000:6.1f} ms"
    )
    return total


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'listing.db'}"
        await upgrade_async(url)
        store = Store(url)
        try:
            await fill(store, args.items)
            for round_no in range(1, args.rounds + 1):
                print(f"round {round_no} ({args.items:,} items, limit {args.limit}):")
                walked = {
                    name: await walk(store, args.category, args.limit)
                    for name, walk in (("offset", by_offset), ("cursor", by_cursor))
                    if name in args.walks.split(",")
                }
                totals = {name: report(name, pages) for name, (_, pages) in walked.items()}
                if len(walked) == 2:
                    ids = [seen for seen, _ in walked.values()]
                    assert ids[0] == ids[1] and len(set(ids[0])) == len(ids[0])
                    print(f"  cursor / offset: {totals['cursor'] / totals['offset']:.3f}")
        finally:
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--category", default=None)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--walks", default="offset,cursor")
    asyncio.run(main(parser.parse_args()))
