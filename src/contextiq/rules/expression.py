"""The filter expression language: a lark grammar parsed into a small, typed AST.

Used by `filter=` on requests and by promotion rules. Parsing is the only thing that
accepts text; everything downstream works on the AST, so nothing is ever `eval`ed. The
grammar is documented in docs/rules.md; keep the two in step.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr ("or" and_expr)*
?and_expr: not_expr ("and" not_expr)*
?not_expr: NOT not_expr -> negation
         | atom
?atom: field COMPARE literal -> comparison
     | field "in" list -> member
     | field NOT "in" list -> not_member
     | field -> truthy
     | "(" or_expr ")"
field: NAME ("." NAME)*
list: "[" [literal ("," literal)*] "]"
?literal: NUMBER -> number
        | DQ_STRING -> string
        | SQ_STRING -> string
        | "true" -> true
        | "false" -> false
        | "null" -> null
NOT: "not"
COMPARE: "==" | "!=" | "<=" | ">=" | "<" | ">"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
NUMBER: /-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/
DQ_STRING: /"([^"\\\n\x00]|\\.)*"/
SQ_STRING: /'([^'\\\n\x00]|\\.)*'/
%ignore /[ \t\r\n]+/
"""

#: Longest expression accepted, deepest nesting (parentheses, `not`, `and`/`or` chains), most
#: values in a list and most distinct fields read.
MAX_LENGTH = 2_000
MAX_DEPTH = 32
MAX_LIST = 1_000
MAX_FIELDS = 8

#: Fields of an item; anything else (but `metadata.<key>`) is unknown, hence null.
FIELDS = frozenset({"category", "title", "tags", "created_at"})

RESERVED = frozenset({"and", "or", "not", "in", "true", "false", "null"})

Scalar = str | float | bool | None
Op = Literal["==", "!=", "<", "<=", ">", ">="]

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "/": "/"}


class FilterError(ValueError):
    """An expression outside the grammar, with the 0-based character where it went wrong."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position})")
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True)
class Field:
    #: ("category",), ("metadata", "price"), or ("?", ...) for an unknown field (always null).
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    field: Field
    op: Op
    value: Scalar


@dataclass(frozen=True, slots=True)
class Member:
    field: Field
    values: tuple[Scalar, ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class Truthy:
    field: Field


@dataclass(frozen=True, slots=True)
class Not:
    operand: "Expr"


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple["Expr", ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple["Expr", ...]


Expr = Compare | Member | Truthy | Not | And | Or

_PARSER = Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _unescape(token: Token) -> str:
    body = str(token)[1:-1]

    def one(match: re.Match[str]) -> str:
        char = match.group(1)
        if len(char) == 5:  # \uXXXX
            return chr(int(char[1:], 16))
        if char not in _ESCAPES:
            position = (token.start_pos or 0) + 1 + match.start()
            raise FilterError(f"unknown escape \\{char} in a string", position)
        return _ESCAPES[char]

    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", one, body)


def _field(tree: Tree[Token]) -> Field:
    names = tuple(str(t) for t in tree.children if isinstance(t, Token))
    if names[0] in RESERVED:
        raise FilterError(f"{names[0]!r} is a keyword, not a field", _position(tree))
    if names[0] == "metadata" and len(names) > 1:
        return Field(names)
    if len(names) == 1 and names[0] in FIELDS:
        return Field(names)
    return Field(("?", *names))


def _literal(node: Tree[Token] | Token, field: Field) -> Scalar:
    assert isinstance(node, Tree)
    kind = node.data
    if kind == "true":
        return True
    if kind == "false":
        return False
    if kind == "null":
        return None
    token = node.children[0]
    assert isinstance(token, Token)
    if kind == "number":
        return float(token)
    text = _unescape(token)
    if field.path == ("created_at",):  # dates are ISO 8601 strings, compared as instants
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise FilterError(f"{text!r} is not an ISO 8601 date", token.start_pos or 0) from None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return text


def _build(node: Tree[Token] | Token, depth: int, fields: set[Field]) -> Expr:
    if depth > MAX_DEPTH:
        raise FilterError(f"expression nested deeper than {MAX_DEPTH}", _position(node))
    assert isinstance(node, Tree)
    kind, children = node.data, node.children
    if kind == "or_expr":
        return Or(tuple(_build(c, depth + 1, fields) for c in children))
    if kind == "and_expr":
        return And(tuple(_build(c, depth + 1, fields) for c in children))
    if kind == "negation":
        return Not(_build(children[1], depth + 1, fields))
    assert isinstance(children[0], Tree)
    field = _field(children[0])
    fields.add(field)
    if len(fields) > MAX_FIELDS:  # each new field is a column to build over the catalogue
        raise FilterError(f"an expression reads at most {MAX_FIELDS} fields", _position(node))
    if kind == "truthy":
        return Truthy(field)
    if kind == "comparison":
        op = str(children[1])
        return Compare(field, op, _literal(children[2], field))  # type: ignore[arg-type]
    items = children[-1]
    assert isinstance(items, Tree)
    if len(items.children) > MAX_LIST:
        raise FilterError(f"a list holds at most {MAX_LIST} values", _position(items))
    values = tuple(_literal(c, field) for c in items.children)
    return Member(field, values, negated=kind == "not_member")


def _position(node: Tree[Token] | Token) -> int:
    if isinstance(node, Token):
        return node.start_pos or 0
    return node.meta.start_pos if not node.meta.empty else 0


@lru_cache(maxsize=1024)
def parse(text: str) -> Expr:
    """The AST of `text`; raises FilterError (with a position) for anything else."""
    if len(text) > MAX_LENGTH:
        raise FilterError(f"an expression is at most {MAX_LENGTH} characters", MAX_LENGTH)
    if not text.strip():
        raise FilterError("the expression is empty", 0)
    try:
        tree = _PARSER.parse(text)
    except UnexpectedEOF:
        raise FilterError("the expression ends too early", len(text)) from None
    except UnexpectedCharacters as exc:
        at = exc.pos_in_stream or 0
        raise FilterError(f"unexpected character {text[at]!r}", at) from None
    except UnexpectedInput as exc:
        position = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
        token = getattr(exc, "token", None)
        if token is not None and getattr(token, "type", "") == "$END":
            raise FilterError("the expression ends too early", len(text)) from None
        shown = f"{str(token)!r}" if token is not None else "input"
        raise FilterError(f"unexpected {shown}", position) from None
    except LarkError as exc:  # pragma: no cover - lark's other errors are grammar bugs
        raise FilterError(str(exc), 0) from None
    return _build(tree, 0, set())
