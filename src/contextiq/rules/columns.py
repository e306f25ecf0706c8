"""The catalogue as numpy columns, so a filter over 100,000 items is a few array operations.

Rows are aligned with a model's `item_ids`. Availability (hidden flag, window bounds) is
kept as arrays and checked against the clock on every request, so expiry needs no write.
A field an expression reads (`category`, `metadata.price`, ...) is materialised into a
`FieldColumn` the first time one asks for it, and evaluated masks are kept per expression.
A write does not rebuild the fields: rows changed since they were built are evaluated one
by one on top of the vectorised answer, until enough have changed to make a rebuild worth
it. Semantics match `predicate.matches` exactly.

The metadata key paths any item has are counted as rows change, so a field no item has
(`metadata.nobody_has_this`) is answered as null on every row without a pass over the
catalogue. A field can be built off the owner's lock: `snapshot` copies what the build reads,
`FieldBuild.run` builds from that copy alone (any thread), and `install` takes the result,
marking every row written since the copy to be answered item by item.
"""

from collections import Counter, OrderedDict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from contextiq.domain import Content
from contextiq.rules.expression import And, Compare, Expr, Member, Not, Op, Or, Scalar, Truthy
from contextiq.rules.predicate import kind, matches, number, raw_value, scalars

Mask = npt.NDArray[np.bool_]
Path = tuple[str, ...]
_KINDS = {"b": 0, "n": 1, "s": 2}
MASK_CACHE = 256
#: Materialised fields kept (least recently used go first): each holds a value per item.
MAX_FIELDS_KEPT = 32
#: Rows changed since the fields were built that are evaluated item by item; beyond, rebuild.
OVERLAY_ROWS = 2_000


@dataclass(frozen=True, slots=True)
class FieldColumn:
    """Every scalar value of one field, flattened: value j belongs to row `rows[j]`."""

    rows: npt.NDArray[np.int64]
    kinds: npt.NDArray[np.int8]
    numbers: npt.NDArray[np.float64]
    #: Index into `vocab` (sorted, so code order is string order) for strings, else -1.
    codes: npt.NDArray[np.int64]
    vocab: npt.NDArray[np.str_]
    present: Mask
    truthy: Mask

    @classmethod
    def build(cls, raws: Sequence[Any]) -> "FieldColumn":
        rows: list[int] = []
        values: list[Any] = []
        truthy = np.zeros(len(raws), np.bool_)
        for row, raw in enumerate(raws):
            found = scalars(raw)
            rows.extend([row] * len(found))
            values.extend(found)
            truthy[row] = any(bool(v) for v in found)
        kinds = np.array([_KINDS[kind(v) or "s"] for v in values], np.int8)
        # Booleans keep 0/1 here too; `kinds` tells them from numbers.
        numbers = [number(v) if k < 2 else 0.0 for v, k in zip(values, kinds, strict=True)]
        strings = [v for v, k in zip(values, kinds, strict=True) if k == 2]
        vocab = np.array(sorted(set(strings)), dtype=np.str_)
        codes = np.full(len(values), -1, np.int64)
        if strings:
            codes[kinds == 2] = np.searchsorted(vocab, np.array(strings, dtype=np.str_))
        row_ids = np.array(rows, np.int64)
        present = np.zeros(len(raws), np.bool_)
        present[row_ids] = True
        return cls(row_ids, kinds, np.array(numbers, np.float64), codes, vocab, present, truthy)

    def _rows(self, hits: Mask) -> Mask:
        out = np.zeros(len(self.present), np.bool_)
        out[self.rows[hits]] = True
        return out

    def _values(self, op: Op, literal: Scalar) -> Mask:
        """Which values satisfy `value op literal` (`==` and orderings only)."""
        k = kind(literal)
        if literal is None or k is None:
            return np.zeros(len(self.rows), np.bool_)
        if k == "b":
            if op != "==":
                return np.zeros(len(self.rows), np.bool_)
            hits: Mask = (self.kinds == 0) & (self.numbers == float(literal))
            return hits
        if k == "n":
            value = number(literal)  # type: ignore[arg-type]
            hits = (self.kinds == 1) & _order(self.numbers, op, value)
            return hits
        text = np.str_(literal)
        left = int(np.searchsorted(self.vocab, text, "left"))
        right = int(np.searchsorted(self.vocab, text, "right"))
        strings = self.codes >= 0
        bounds = {"==": (left, right), "<": (0, left), "<=": (0, right)}
        lo, hi = bounds.get(op, (right if op == ">" else left, len(self.vocab)))
        hits = strings & (self.codes >= lo) & (self.codes < hi)
        return hits

    def compare(self, op: Op, literal: Scalar) -> Mask:
        if op == "!=":
            if literal is None:
                return np.zeros(len(self.present), np.bool_)
            return self.present & ~self._rows(self._values("==", literal))
        return self._rows(self._values(op, literal))

    def member(self, literals: tuple[Scalar, ...], negated: bool) -> Mask:
        """`in` / `not in`: one pass over the values whatever the list's length (a pass per
        literal held the event loop for a second at 1,000 literals over 300,000 tags)."""
        by_kind: dict[str | None, list[Any]] = {"b": [], "n": [], "s": []}
        for literal in literals:
            by_kind.setdefault(kind(literal), []).append(literal)
        hits = np.zeros(len(self.rows), np.bool_)
        for code, wanted in ((0, by_kind["b"]), (1, by_kind["n"])):
            if wanted:
                values = np.array([number(v) for v in wanted], np.float64)
                hits |= (self.kinds == code) & _among(self.numbers, values)
        if by_kind["s"] and len(self.vocab):
            texts = np.array(by_kind["s"], dtype=np.str_)
            at = np.minimum(np.searchsorted(self.vocab, texts), len(self.vocab) - 1)
            listed = np.zeros(len(self.vocab) + 1, np.bool_)  # by code + 1 (-1: no string)
            listed[at[self.vocab[at] == texts] + 1] = True
            hits |= listed[self.codes + 1]
        found = self._rows(hits)
        out: Mask = self.present & ~found if negated else found
        return out


@dataclass(frozen=True, slots=True)
class FieldBuild:
    """What building some fields reads, copied so the build needs no lock (`snapshot`)."""

    paths: tuple[Path, ...]
    #: The columns' change count when copied: rows changed after it are overlaid on install.
    version: int
    contents: tuple[Content | None, ...]

    def run(self) -> dict[Path, FieldColumn]:
        """The slow part: a pass over the copied rows per field (pure; fine in any thread)."""
        return {
            path: FieldColumn.build(
                [None if c is None else raw_value(c, path) for c in self.contents]
            )
            for path in self.paths
        }


def _among(values: npt.NDArray[np.float64], wanted: npt.NDArray[np.float64]) -> Mask:
    """Which `values` equal one of `wanted`: a binary search each, all in one call."""
    ordered = np.unique(wanted)
    at = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    return np.asarray(ordered[at] == values, np.bool_)


def _order(values: npt.NDArray[np.float64], op: Op, literal: float) -> Mask:
    if op == "==":
        out = values == literal
    elif op == "<":
        out = values < literal
    elif op == "<=":
        out = values <= literal
    elif op == ">":
        out = values > literal
    else:
        out = values >= literal
    return np.asarray(out, np.bool_)


@dataclass(frozen=True, slots=True)
class _Availability:
    """The available items from the clock time `since` until (not including) `until`."""

    since: float
    until: float
    mask: Mask
    #: When the next item not hidden enters its window (inf: none will).
    opens: float


class CatalogColumns:
    """One process's columnar copy of the catalogue, aligned with a model's item ids."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids: list[str] = []
        self.index: dict[str, int] = {}
        self.exists = np.zeros(0, np.bool_)
        self.hidden = np.zeros(0, np.bool_)
        self.starts = np.zeros(0, np.float64)
        self.ends = np.zeros(0, np.float64)
        #: Creation instants (NaN: none given), so "newest of what passes" is one sort.
        self.created = np.zeros(0, np.float64)
        self._contents: list[Content | None] = []
        self._fields: OrderedDict[Path, FieldColumn] = OrderedDict()
        #: Rows written since the fields were built (row -> its content, None: no row yet).
        self._overlay: dict[int, Content | None] = {}
        #: How many items have each metadata key path (("a",), ("a", "b"), ...): a path none
        #: has is null everywhere, so it needs no field.
        self._paths = _KeyPaths()
        #: Counts row changes; `_row_versions[r]` is the count at row r's last change.
        self._version = 0
        self._row_versions = np.zeros(0, np.int64)
        self._masks: OrderedDict[Expr, Mask] = OrderedDict()
        self._available: _Availability | None = None
        self.extend(ids)

    def __len__(self) -> int:
        return len(self.ids)

    def extend(self, ids: Sequence[str]) -> None:
        """Append rows for items the model learned since (unknown until `update`)."""
        fresh = [i for i in ids if i not in self.index]
        if not fresh:
            return
        start = len(self.ids)
        self.ids.extend(fresh)
        self.index.update({item: start + j for j, item in enumerate(fresh)})
        grow = len(fresh)
        self.exists = np.concatenate([self.exists, np.zeros(grow, np.bool_)])
        self.hidden = np.concatenate([self.hidden, np.zeros(grow, np.bool_)])
        self.starts = np.concatenate([self.starts, np.full(grow, -np.inf)])
        self.ends = np.concatenate([self.ends, np.full(grow, np.inf)])
        self.created = np.concatenate([self.created, np.full(grow, np.nan)])
        self._row_versions = np.concatenate([self._row_versions, np.zeros(grow, np.int64)])
        self._contents.extend([None] * grow)
        self._changed(range(start, start + grow))

    def update(self, contents: Sequence[Content]) -> None:
        """Take the latest rows of these items (ones the model does not know are skipped)."""
        rows = [(self.index[c.content_id], c) for c in contents if c.content_id in self.index]
        if not rows:
            return
        at = np.fromiter((r for r, _ in rows), np.int64, len(rows))
        self.exists[at] = True
        self.hidden[at] = [c.hidden for _, c in rows]
        self.starts[at] = [_instant(c.available_from, -np.inf) for _, c in rows]
        self.ends[at] = [_instant(c.available_until, np.inf) for _, c in rows]
        self.created[at] = [_instant(c.created_at, np.nan) for _, c in rows]
        replaced = []
        for row, content in rows:
            old = self._contents[row]
            if old is not None:
                replaced.append(old.metadata)
            self._contents[row] = content
        self._paths.remove(replaced)
        self._paths.add([c.metadata for _, c in rows])
        self._changed(at.tolist())

    @property
    def present(self) -> int:
        """How many rows hold an item of the catalogue."""
        return int(self.exists.sum())

    def keep_only(self, present: Collection[str]) -> None:
        """Mark the rows of items not in `present` (deleted) absent: the model keeps a deleted
        item until it is retrained, and `update` sees only rows that are there."""
        rows = [r for r in np.flatnonzero(self.exists).tolist() if self.ids[r] not in present]
        if not rows:
            return
        self.exists[rows] = False
        self._paths.remove([c.metadata for r in rows if (c := self._contents[r]) is not None])
        for row in rows:
            self._contents[row] = None
        self._changed(rows)

    def _changed(self, rows: Sequence[int]) -> None:
        self._masks.clear()
        self._available = None
        self._version += 1
        self._row_versions[np.fromiter(rows, np.int64)] = self._version
        if not self._fields:
            return
        self._overlay.update({r: self._contents[r] for r in rows})
        if len(self._overlay) > OVERLAY_ROWS:
            self._fields.clear()
            self._overlay.clear()

    def available(self, now: datetime) -> Mask:
        """Items any list may show at `now`: present, not hidden, inside their window.

        Read-only, and the same array until the clock reaches the next window bound of any
        item or a row changes: a request costs no pass over the catalogue.
        """
        t = now.timestamp()
        cached = self._available
        if cached is not None and cached.since <= t < cached.until:
            return cached.mask
        mask = self.exists & ~self.hidden & (self.starts <= t) & (t < self.ends)
        mask.flags.writeable = False
        bounds = np.concatenate([self.starts, self.ends])
        passed, ahead = bounds[bounds <= t], bounds[bounds > t]
        since = float(passed.max()) if len(passed) else -np.inf
        until = float(ahead.min()) if len(ahead) else np.inf
        later = self.starts[self.exists & ~self.hidden & (self.starts > t)]
        opens = float(later.min()) if len(later) else np.inf
        self._available = _Availability(since, until, mask, opens)
        return mask

    def next_opening(self, now: datetime) -> float | None:
        """Seconds until an item not hidden enters its window; None if none will.

        A list cached past it would go on leaving that item out.
        """
        self.available(now)
        assert self._available is not None
        opens = self._available.opens - now.timestamp()
        return opens if np.isfinite(opens) else None

    def mask(self, expr: Expr) -> Mask:
        """Which rows satisfy `expr` (cached until rows change; do not write to it)."""
        cached = self._masks.get(expr)
        if cached is not None:
            self._masks.move_to_end(expr)
            return cached
        found = np.zeros(len(self.ids), np.bool_)
        vectorised = self._evaluate(expr)
        found[: len(vectorised)] = vectorised
        for row, content in self._overlay.items():
            found[row] = content is not None and matches(expr, content)
        found.flags.writeable = False
        self._masks[expr] = found
        if len(self._masks) > MASK_CACHE:
            self._masks.popitem(last=False)
        return found

    def _evaluate(self, expr: Expr) -> Mask:
        """The answer from the fields' columns, over the rows they were built with."""
        rows = self._built_rows()
        if isinstance(expr, And):
            out = np.ones(rows, np.bool_)
            for e in expr.operands:
                out &= self._evaluate(e)
            return out
        if isinstance(expr, Or):
            out = np.zeros(rows, np.bool_)
            for e in expr.operands:
                out |= self._evaluate(e)
            return out
        if isinstance(expr, Not):
            return ~self._evaluate(expr.operand)
        if not self.known(expr.field.path):  # null everywhere: only `not` of it can hold
            return np.zeros(rows, np.bool_)
        column = self.field(expr.field.path)
        if isinstance(expr, Truthy):
            return column.truthy.copy()
        if isinstance(expr, Member):
            return column.member(expr.values, expr.negated)
        assert isinstance(expr, Compare)
        return column.compare(expr.op, expr.value)

    def known(self, path: Path) -> bool:
        """Whether any item may have a value at `path` (no: null on every row, no field)."""
        if path[0] == "metadata":
            return path[1:] in self._paths
        return path[0] != "?"

    def missing(self, expr: Expr) -> set[Path]:
        """The fields `expr` reads that must be built before evaluating it is cheap."""
        if isinstance(expr, And | Or):
            return set().union(*(self.missing(e) for e in expr.operands))
        if isinstance(expr, Not):
            return self.missing(expr.operand)
        path = expr.field.path
        return {path} if self.known(path) and path not in self._fields else set()

    def has_fields(self, expr: Expr) -> bool:
        """Whether every field `expr` reads is materialised (evaluating it is then cheap)."""
        return not self.missing(expr)

    def materialise(self, expr: Expr) -> None:
        """Build the fields `expr` reads in place (the slow part; fine off the loop)."""
        for path in self.missing(expr):
            self.field(path)

    def snapshot(self, paths: Iterable[Path]) -> FieldBuild:
        """A copy of what building these fields reads, to `run` without holding anything."""
        rows = self._built_rows()  # every field covers the same rows
        return FieldBuild(tuple(sorted(paths)), self._version, tuple(self._contents[:rows]))

    def install(self, build: FieldBuild, built: dict[Path, FieldColumn]) -> bool:
        """Take fields built from `build`'s copy; False (nothing taken) when they no longer fit.

        Rows written since the copy are answered item by item, like every row written since
        the fields were built; when that would exceed `OVERLAY_ROWS`, or the fields cover
        other rows now (they were dropped and rebuilt meanwhile), the build is refused.
        """
        if self._fields and self._built_rows() != len(build.contents):
            return False
        stale = np.nonzero(self._row_versions > build.version)[0].tolist()
        if len(self._overlay.keys() | stale) > OVERLAY_ROWS:
            return False
        self._overlay.update({r: self._contents[r] for r in stale})
        for path, column in built.items():
            self._fields[path] = column
            self._fields.move_to_end(path)
        while len(self._fields) > MAX_FIELDS_KEPT:
            self._fields.popitem(last=False)
        return True

    def _built_rows(self) -> int:
        """How many rows the materialised fields cover (all of them when none is built)."""
        built = list(self._fields.values())
        return len(built[0].present) if built else len(self.ids)

    def field(self, path: Path) -> FieldColumn:
        """`path`'s column, built in place from the current rows if it is not kept."""
        column = self._fields.get(path)
        if column is None:
            rows = self._built_rows()  # every field covers the same rows
            raws = [None if c is None else raw_value(c, path) for c in self._contents[:rows]]
            column = self._fields[path] = FieldColumn.build(raws)
            if len(self._fields) > MAX_FIELDS_KEPT:
                self._fields.popitem(last=False)
        else:
            self._fields.move_to_end(path)
        return column

    def next_change(self, rows: npt.NDArray[np.int64], now: datetime) -> float | None:
        """Seconds until any of these rows leaves (or enters) its window; None if never."""
        t = now.timestamp()
        bounds = np.concatenate([self.starts[rows], self.ends[rows]])
        ahead = bounds[np.isfinite(bounds) & (bounds > t)]
        return float(ahead.min() - t) if len(ahead) else None


class _KeyPaths:
    """How many items have each metadata key path: top-level keys, then deeper paths.

    Counted in bulk (`Counter.update` over the keys runs in C), so a pass over 100,000
    items' flat metadata costs little next to reading them.
    """

    def __init__(self) -> None:
        self.top: Counter[str] = Counter()
        #: Paths two or more keys long (("dims", "w"), ...), from nested objects.
        self.deep: Counter[Path] = Counter()

    def __contains__(self, keys: Path) -> bool:
        return keys[0] in self.top if len(keys) == 1 else keys in self.deep

    def add(self, metadata: Sequence[dict[str, Any]]) -> None:
        self.top.update(chain.from_iterable(metadata))
        self.deep.update(chain.from_iterable(_deep_paths(m) for m in metadata))

    def remove(self, metadata: Sequence[dict[str, Any]]) -> None:
        top = list(chain.from_iterable(metadata))
        deep = list(chain.from_iterable(_deep_paths(m) for m in metadata))
        self.top.subtract(top)
        self.deep.subtract(deep)
        for key in set(top):
            if self.top[key] <= 0:
                del self.top[key]
        for path in set(deep):
            if self.deep[path] <= 0:
                del self.deep[path]


def _deep_paths(metadata: dict[str, Any]) -> list[Path]:
    """The key paths of `metadata`'s nested objects (("dims", "w"), ("dims", "d", "x"), ...)."""
    if not any(map(isinstance, metadata.values(), repeat(dict))):  # the usual case, in C
        return []
    out: list[Path] = []
    stack: list[tuple[Path, Any]] = [((k,), v) for k, v in metadata.items()]
    while stack:
        prefix, value = stack.pop()
        if isinstance(value, dict):
            for key, inner in value.items():
                path = (*prefix, key)
                out.append(path)
                stack.append((path, inner))
    return out


def _instant(moment: datetime | None, default: float) -> float:
    return default if moment is None else moment.timestamp()
