"""An expression evaluated on one item: the reference semantics the vectorised form matches.

A field has zero or more scalar values: `tags` and list-valued metadata have many, a missing
field or null has none. A comparison holds when any value satisfies it; values only compare
with literals of their own kind (number, string, boolean), and nothing compares with null.
`!=` and `not in` hold for an item with a value where `==` / `in` do not.
"""

from collections.abc import Callable
from typing import Any

from contextiq.domain import Content
from contextiq.rules.expression import (
    And,
    Compare,
    Expr,
    Field,
    Member,
    Not,
    Op,
    Or,
    Scalar,
    Truthy,
)

Predicate = Callable[[Content], bool]


def kind(value: Any) -> str | None:
    """'b', 'n' or 's' for a comparable scalar; None for null, containers and the rest."""
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int | float):
        return "n"
    if isinstance(value, str):
        return "s"
    return None


def scalars(raw: Any) -> list[Any]:
    """The comparable values of a field's raw value (a list contributes its scalar elements)."""
    if isinstance(raw, list | tuple):
        return [v for v in raw if kind(v) is not None]
    return [raw] if kind(raw) is not None else []


def raw_value(content: Content, path: tuple[str, ...]) -> Any:
    head = path[0]
    if head == "category":
        return content.category
    if head == "title":
        return content.title
    if head == "tags":
        return list(content.tags)
    if head == "created_at":
        return None if content.created_at is None else content.created_at.timestamp()
    if head != "metadata":
        return None
    value: Any = content.metadata
    for key in path[1:]:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def number(value: int | float) -> float:
    """A JSON number as a float (integers too large for one are infinite)."""
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def compare(value: Any, op: Op, literal: Scalar) -> bool:
    """One value against one literal; different kinds never match."""
    if literal is None or kind(value) != kind(literal):
        return False
    if kind(value) == "n":
        value = number(value)
    if op == "==":
        return bool(value == literal)
    if kind(literal) == "b":  # booleans are equal or not, never ordered
        return False
    if op == "<":
        return bool(value < literal)
    if op == "<=":
        return bool(value <= literal)
    if op == ">":
        return bool(value > literal)
    return bool(value >= literal)


def _any_equal(values: list[Any], literals: tuple[Scalar, ...]) -> bool:
    return any(compare(v, "==", lit) for v in values for lit in literals)


def matches(expr: Expr, content: Content) -> bool:
    """Whether `content` satisfies `expr`."""
    if isinstance(expr, And):
        return all(matches(e, content) for e in expr.operands)
    if isinstance(expr, Or):
        return any(matches(e, content) for e in expr.operands)
    if isinstance(expr, Not):
        return not matches(expr.operand, content)
    values = _values(expr.field, content)
    if isinstance(expr, Truthy):
        return any(bool(v) for v in values)
    if isinstance(expr, Member):
        hit = _any_equal(values, expr.values)
        return bool(values) and not hit if expr.negated else hit
    assert isinstance(expr, Compare)
    if expr.op == "!=":
        return expr.value is not None and bool(values) and not _any_equal(values, (expr.value,))
    return any(compare(v, expr.op, expr.value) for v in values)


def _values(field: Field, content: Content) -> list[Any]:
    if field.path[0] == "?":
        return []
    return scalars(raw_value(content, field.path))


def predicate(expr: Expr) -> Predicate:
    """`matches` bound to one expression."""
    return lambda content: matches(expr, content)
