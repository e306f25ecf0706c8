"""The catalogue as numpy columns, so a filter over 100,000 items is a few array operations.

Rows are aligned with a model's `item_ids`. Availability (hidden flag, window bounds) is
kept as arrays and checked against the clock on every request, so expiry needs no write.
A field an expression reads (`category`, `metadata.price`, ...) is materialised into a
`FieldColumn` the first time one asks for it, and evaluated masks are kept per expression.
A write does not rebuild the fields: rows changed since they were built are evaluated one
by one on top of the vectorised answer, until enough have changed to make a rebuild worth
it. Semantics match `predicate.matches` exactly.
"""

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from contextiq.domain import Content
from contextiq.rules.expression import And, Compare, Expr, Member, Not, Op, Or, Scalar, Truthy
from contextiq.rules.predicate import kind, matches, number, raw_value, scalars

Mask = npt.NDArray[np.bool_]
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
        hits = np.zeros(len(self.rows), np.bool_)
        for literal in dict.fromkeys(literals):
            hits |= self._values("==", literal)
        found = self._rows(hits)
        out: Mask = self.present & ~found if negated else found
        return out


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


class CatalogColumns:
    """One process's columnar copy of the catalogue, aligned with a model's item ids."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids: list[str] = []
        self.index: dict[str, int] = {}
        self.exists = np.zeros(0, np.bool_)
        self.hidden = np.zeros(0, np.bool_)
        self.starts = np.zeros(0, np.float64)
        self.ends = np.zeros(0, np.float64)
        self._contents: list[Content | None] = []
        self._fields: OrderedDict[tuple[str, ...], FieldColumn] = OrderedDict()
        #: Rows written since the fields were built (row -> its content, None: no row yet).
        self._overlay: dict[int, Content | None] = {}
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
        for row, content in rows:
            self._contents[row] = content
        self._changed(at.tolist())

    def _changed(self, rows: Sequence[int]) -> None:
        self._masks.clear()
        self._available = None
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
        self._available = _Availability(since, until, mask)
        return mask

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
        if expr.field.path[0] == "?":  # unknown: null, so only `not` of it can hold
            return np.zeros(rows, np.bool_)
        column = self.field(expr.field.path)
        if isinstance(expr, Truthy):
            return column.truthy.copy()
        if isinstance(expr, Member):
            return column.member(expr.values, expr.negated)
        assert isinstance(expr, Compare)
        return column.compare(expr.op, expr.value)

    def has_fields(self, expr: Expr) -> bool:
        """Whether every field `expr` reads is materialised (evaluating it is then cheap)."""
        if isinstance(expr, And | Or):
            return all(self.has_fields(e) for e in expr.operands)
        if isinstance(expr, Not):
            return self.has_fields(expr.operand)
        return expr.field.path[0] == "?" or expr.field.path in self._fields

    def materialise(self, expr: Expr) -> None:
        """Build the fields `expr` reads (the slow part, once per field; fine off the loop)."""
        if isinstance(expr, And | Or):
            for e in expr.operands:
                self.materialise(e)
        elif isinstance(expr, Not):
            self.materialise(expr.operand)
        elif expr.field.path[0] != "?":
            self.field(expr.field.path)

    def _built_rows(self) -> int:
        """How many rows the materialised fields cover (all of them when none is built)."""
        built = list(self._fields.values())
        return len(built[0].present) if built else len(self.ids)

    def field(self, path: tuple[str, ...]) -> FieldColumn:
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


def _instant(moment: datetime | None, default: float) -> float:
    return default if moment is None else moment.timestamp()
