"""Walking the whole catalogue listing (`GET /content`) by offset and by cursor, and searching
it (`?q=`), at 100,000 items.

A client that syncs the catalogue reads every page. An offset page reads every row before
it, so the walk grows with the square of the catalogue; a cursor page starts at its key in
the listing's index. Pages come from the package's own `Store.list_content`, what the route
calls (the route adds only the cursor's encoding), on a new database filled with the demo
generator's items (deterministic; created times in whole seconds, so many share one).

    .venv/bin/python bench/content_listing.py [--items 100000] [--limit 200] [--rounds 2] \\
        [--category CATEGORY] [--database-url URL] [--walks offset,cursor,search] \\
        [--searches ramen,budget,...]

Each round walks by offset, then by cursor, and checks both walks saw the same items in the
same order. Prints each walk's total and its pages' median and slowest time. `--walks offset`
runs on code from before cursors (a worktree on PYTHONPATH) as well.

`search` reads the first page (21 items: the route's default 20 and the one more it asks for)
of each of `--searches` five times through `Store.list_content` (the trigram index), and five
times as the scan that came before it (`title_search.scan`, on the same database; on
PostgreSQL with bitmap scans off, the only way its planner reaches a GIN index), checks both
found the same, and prints their medians. The import (`fill`, 5,000-item upserts as
`contextiq import` writes them) and a re-import that renames every item are timed first
(wall, and this process's CPU: on SQLite the database's work too, and steadier under load);
`--rounds 0` times them alone, which runs on the code from before the index too (a worktree
on PYTHONPATH), for the import's cost without its upkeep.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select, text

from contextiq.data.demo import demo_data
from contextiq.store.migrate import upgrade_async
from contextiq.store.store import Store
from contextiq.store.tables import ContentRow

Walk = tuple[list[str], list[float]]
SEARCHES = "ramen,budget,the,content_0042,zzz,50%,lo"
SEARCH_PAGE = 21
REPEATS = 5


async def fill(store: Store, items: int) -> None:
    """Import the items, then again with every title changed; prints how long each took."""
    data = demo_data(seed=42, n_items=items, n_users=1)
    for name, rename in (("import", ""), ("re-import, every title renamed", " (revised)")):
        started, cpu = time.perf_counter(), time.process_time()
        for start in range(0, items, 5_000):
            batch = data.contents(start, min(items, start + 5_000))
            await store.upsert_content([replace(c, title=c.title + rename) for c in batch])
        print(
            f"{name}: {time.perf_counter() - started:.2f} s for {items:,} items"
            f" (this process's CPU: {time.process_time() - cpu:.2f} s)"
        )
    if store.dialect == "postgresql":  # as autovacuum does after a write of this size
        async with store.engine.begin() as conn:
            await conn.execute(text("ANALYZE content"))


async def scanned(store: Store, query: str) -> tuple[list[str], int]:
    """The first page and total as the scan found them, the way `list_content` asks."""
    from contextiq.store.title_search import scan  # not in the code before it (--rounds 0)

    stmt = select(ContentRow).where(scan(query))
    async with store.sessions() as session:
        if store.dialect == "postgresql":
            await session.execute(text("SET LOCAL enable_bitmapscan = off"))
        total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = await session.scalars(
            stmt.order_by(ContentRow.created_at.desc(), ContentRow.content_id.desc()).limit(
                SEARCH_PAGE
            )
        )
        return [r.content_id for r in rows], int(total or 0)


async def search(store: Store, queries: list[str]) -> None:
    for query in queries:
        indexed: list[float] = []
        scans: list[float] = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            page, total = await store.list_content(None, query, SEARCH_PAGE, 0)
            indexed.append(time.perf_counter() - started)
            started = time.perf_counter()
            found = await scanned(store, query)
            scans.append(time.perf_counter() - started)
            assert found == ([c.content_id for c in page], total), query
        index_ms, scan_ms = (statistics.median(t) * 1000 for t in (indexed, scans))
        print(
            f"  search {query!r:>14}: {total:6,} found; index {index_ms:7.1f} ms,"
            f" scan {scan_ms:7.1f} ms (medians of {REPEATS}); index / scan {index_ms / scan_ms:.3f}"
        )


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
            walks = args.walks.split(",")
            for round_no in range(1, args.rounds + 1):
                print(f"round {round_no} ({args.items:,} items, limit {args.limit}):")
                walked = {
                    name: await walk(store, args.category, args.limit)
                    for name, walk in (("offset", by_offset), ("cursor", by_cursor))
                    if name in walks
                }
                totals = {name: report(name, pages) for name, (_, pages) in walked.items()}
                if len(walked) == 2:
                    ids = [seen for seen, _ in walked.values()]
                    assert ids[0] == ids[1] and len(set(ids[0])) == len(ids[0])
                    print(f"  cursor / offset: {totals['cursor'] / totals['offset']:.3f}")
                if "search" in walks:
                    await search(store, args.searches.split(","))
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
    parser.add_argument("--searches", default=SEARCHES)
    asyncio.run(main(parser.parse_args()))
