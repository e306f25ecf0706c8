"""What an `in` list costs a filter, by its length, over a field of 100,000 items.

A filter's mask is cached per expression, so a caller who changes the list on every request
(a page's "not these 500 already shown" in a filter) pays the evaluation each time, on the
event loop. This times the package's own `FieldColumn.member` on a field like a real
catalogue's tags (three tags and a number per item, 400,000 values in all), for lists of 10 to
1,000 literals, each list new to the column. Run it with another checkout's `src` on
`PYTHONPATH` to compare:

    PYTHONPATH=src .venv/bin/python bench/filter_lists.py [--items 100000] [--repeat 7]
"""

import argparse
import random
import time

from contextiq.rules.columns import FieldColumn
from contextiq.rules.expression import Scalar

LENGTHS = (10, 100, 1_000)


def field(items: int, rng: random.Random) -> FieldColumn:
    """Three tags an item from a vocabulary of 5,000, and a number, as metadata lists hold."""
    return FieldColumn.build(
        [[f"tag{rng.randrange(5_000)}" for _ in range(3)] + [i % 97] for i in range(items)]
    )


def literals(length: int, rng: random.Random) -> tuple[Scalar, ...]:
    """Mostly tags, a tenth numbers: some present, some not."""
    strings = [f"tag{rng.randrange(10_000)}" for _ in range(length - length // 10)]
    return (*strings, *(rng.randrange(200) for _ in range(length // 10)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(42)
    column = field(args.items, rng)
    print(f"{args.items:,} items, {len(column.rows):,} values; best of {args.repeat}")
    for length in LENGTHS:
        times = []
        for _ in range(args.repeat):
            wanted = literals(length, rng)
            started = time.perf_counter()
            column.member(wanted, negated=False)
            times.append(time.perf_counter() - started)
        print(f"in-list of {length:>5,}: {min(times) * 1000:9.2f} ms")


if __name__ == "__main__":
    main()
