"""Streaming readers for the generic import files: CSV or JSON lines, with the API's names.

A file named `*.jsonl` or `*.ndjson`, in any case, is JSON lines; any other is CSV. Rows are read
a chunk at a time and each is validated by the API's own models (`ContentIn`, `InteractionIn`),
so memory stays bounded whatever the file size and an import accepts exactly what the API would,
but for what a CSV row must write as text and JSON lines may too: an id written as a JSON integer
is read as its decimal text (`_ID_FIELDS`), `tags` as one `|`-separated string and `metadata` as
a JSON object in a string (`read_content`). A bad row becomes a `BadRow` with its line number
and reason; the caller skips it or stops (`--strict`). An interaction without an `event_id` gets
one (`import_event_id`), so importing the same file again adds nothing. Files are read as UTF-8
with or without the byte-order mark that spreadsheet exports put first; a record with bytes
that are not UTF-8 is a bad row like any other, and a file whose first line (a CSV's header)
is not, or that is UTF-16 or compressed, cannot be read at all (`UnreadableFile`), nor can a CSV
whose header does not name the model's columns (`_columns`): that would make every row bad.
"""

import csv
import functools
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, TextIO, TypeVar

from pydantic import BaseModel, ValidationError

from contextiq.api.schemas import ContentIn, InteractionIn, SubjectIn
from contextiq.config import Settings
from contextiq.csv_separators import other_separator
from contextiq.domain import Content, Interaction
from contextiq.progress import ReadPosition

# A field may be as long as a JSON lines record may: the model then refuses a too-long one as a
# bad row, where the csv module's default of 131,072 characters stopped the whole import.
csv.field_size_limit(2**31 - 1)
T = TypeVar("T")
#: The two names newline-delimited JSON goes by; any other file is CSV.
_JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
#: The identifier fields of content and interaction rows (`Identifier` and `SessionId` in the
#: API models). Exports often write them as JSON numbers, which a CSV holds as text anyway.
_ID_FIELDS = frozenset({"content_id", "user_id", "session_id", "event_id", "recommendation_id"})


@dataclass(frozen=True, slots=True)
class BadRow:
    path: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path.name}:{self.line}: {self.reason}"


class UnreadableFile(Exception):
    """Nothing in the file can be read: not UTF-8 from its first line on, or a CSV header that
    is not the model's columns."""

    def __init__(self, bad: BadRow) -> None:
        super().__init__(str(bad))
        self.bad = bad


_REEXPORT = "re-export the file as UTF-8"
#: Byte-order marks of UTF-16 (and UTF-32, which starts the same), which spreadsheets offer
#: as "Unicode text".
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
#: Magic numbers of the archives exports come in, which would otherwise read as bad UTF-8.
_ARCHIVES = {
    b"\x1f\x8b": "gzip-compressed: gunzip it first",
    b"PK": "a zip archive: unzip it first",
}


#: Separators spreadsheets use in place of the comma, which leave one column named by them all.
def _not_utf8(text: str) -> str | None:
    """Why `text`, decoded with `surrogateescape`, was not UTF-8; None when it was.

    Each byte that was not UTF-8 became one lone surrogate (U+DC80 to U+DCFF), which UTF-8
    refuses to encode again; an ASCII line, nearly every one, costs a flag check.
    """
    if text.isascii():
        return None
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        return f"not UTF-8 (byte 0x{ord(text[exc.start]) - 0xDC00:02x}): {_REEXPORT}"
    return None


def _open_text(path: Path) -> TextIO:
    """`path` as UTF-8 text (a leading byte-order mark dropped) that never fails to decode:
    bytes that are not UTF-8 become lone surrogates, for `_not_utf8` to find per record."""
    with path.open("rb") as f:
        start = f.read(2)
    if start in _UTF16_BOMS:
        raise UnreadableFile(BadRow(path, 1, f"UTF-16, not UTF-8: {_REEXPORT}"))
    if start in _ARCHIVES:
        raise UnreadableFile(BadRow(path, 1, _ARCHIVES[start]))
    return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")


def chunks(rows: Iterator[T], size: int) -> Iterator[list[T]]:
    """`rows` a list of up to `size` at a time: what an import holds in memory at once."""
    while chunk := list(islice(rows, size)):
        yield chunk


def _is_json_lines(path: Path) -> bool:
    """Whether `path` is read as JSON lines rather than CSV: by its suffix, as exporters name
    files `events.ndjson` or `EVENTS.JSONL` as often as `events.jsonl`."""
    return path.suffix.lower() in _JSON_LINES_SUFFIXES


def _id_as_text(key: str, value: Any) -> Any:
    """An id given as a JSON integer (a bool or float is not one) as its decimal text, so a
    JSON lines file imports the rows its CSV equivalent does; any other value unchanged."""
    return str(value) if key in _ID_FIELDS and type(value) is int else value


def _columns(path: Path, header: list[str], model: type[BaseModel]) -> list[str]:
    """The CSV header's names as `model`'s fields (in any case, spaces around them dropped), or
    `UnreadableFile` naming what is wrong: a column unknown, missing, or given twice would
    otherwise make every row a bad one, or silently drop a value."""
    names = [name.strip().lower() for name in header]
    fields = model.model_fields
    problems = []
    if (reason := other_separator(names)) is not None:
        raise UnreadableFile(BadRow(path, 1, reason))
    if unknown := [n for n in names if n not in fields]:
        problems.append(f"unknown columns {', '.join(unknown)} (known: {', '.join(fields)})")
    if missing := [n for n, f in fields.items() if f.is_required() and n not in names]:
        problems.append(f"missing columns {', '.join(missing)}")
    if issubclass(model, SubjectIn) and not {"user_id", "session_id"} & set(names):
        problems.append("missing columns user_id or session_id (one is needed)")
    if twice := sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"columns given twice: {', '.join(twice)}")
    if problems:
        raise UnreadableFile(BadRow(path, 1, "; ".join(problems)))
    return names


def records(
    path: Path, model: type[BaseModel], position: ReadPosition | None = None
) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
    """(line number, fields without empty values) per record of `model`, or the reason it is
    unreadable; `position` follows the reader through the file."""
    if _is_json_lines(path):
        with _open_text(path) as f:
            if position is not None:
                position.reading(f)
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                if (problem := _not_utf8(line)) is not None:
                    yield line_no, BadRow(path, line_no, problem)
                    continue
                try:
                    value = json.loads(line)
                except ValueError as exc:  # also a number past Python's 4,300-digit limit
                    reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                    yield line_no, BadRow(path, line_no, f"not JSON: {reason}")
                    continue
                if not isinstance(value, dict):
                    yield line_no, BadRow(path, line_no, "not a JSON object")
                    continue
                fields = {k: _id_as_text(k, v) for k, v in value.items() if v not in (None, "")}
                yield line_no, fields
        return
    with _open_text(path) as f:
        if position is not None:
            position.reading(f)
        reader = csv.reader(f)
        header = next(reader, [])
        if (problem := _not_utf8("".join(header))) is not None:  # every row would be bad
            raise UnreadableFile(BadRow(path, 1, f"the header is {problem}"))
        if header:
            header = _columns(path, header, model)
        start = reader.line_num + 1
        for row in reader:
            line_no, start = start, reader.line_num + 1  # a quoted field may span lines
            if not row:
                continue
            text = "".join(row)
            if not text.isascii() and (problem := _not_utf8(text)) is not None:
                yield line_no, BadRow(path, line_no, problem)
                continue
            if len(row) != len(header):
                reason = f"{len(row)} fields, the header has {len(header)}"
                yield line_no, BadRow(path, line_no, reason)
                continue
            yield line_no, {k: v for k, v in zip(header, row, strict=True) if v != ""}


def _reason(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors()
    )


def read_content(
    path: Path, position: ReadPosition | None = None
) -> Iterator[tuple[int, Content | BadRow]]:
    """(line, item); in CSV, `tags` are `|`-separated and `metadata` is a JSON object."""
    for line_no, fields in records(path, ContentIn, position):
        if isinstance(fields, BadRow):
            yield line_no, fields
            continue
        if isinstance(fields.get("tags"), str):
            fields["tags"] = [t for t in fields["tags"].split("|") if t]
        if isinstance(fields.get("metadata"), str):
            try:
                fields["metadata"] = json.loads(fields["metadata"])
            except json.JSONDecodeError as exc:
                yield line_no, BadRow(path, line_no, f"metadata: not JSON: {exc.msg}")
                continue
        try:
            yield line_no, ContentIn.model_validate(fields).to_content()
        except ValidationError as exc:
            yield line_no, BadRow(path, line_no, _reason(exc))


#: (record number from 0, line, fields or why the record is unreadable)
Record = tuple[int, int, dict[str, Any] | BadRow]


def numbered_records(path: Path, position: ReadPosition | None = None) -> Iterator[Record]:
    """`records` with each one's number: a missing event id is derived from it."""
    for n, (line_no, fields) in enumerate(records(path, InteractionIn, position)):
        yield n, line_no, fields


def _digest(*parts: str, size: int) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:size]


@functools.cache
def file_key(path: Path) -> str:
    """The file's resolved absolute path, hashed: short, and never the same for two files."""
    return _digest(str(path.resolve()), size=16)


def import_event_id(path: Path, n: int, event: InteractionIn) -> str:
    """The id of an imported event that has none of its own, the same on every re-run.

    A row with a timestamp is identified by what it says: its subject, item, type, time (as
    UTC) and duration, whichever file or line it comes from, so an edited file or overlapping
    exports add only what is new. A row without one happens when it is imported, so only its
    place identifies it: the file (`file_key`, never its bare name) and record number `n`.
    """
    if event.timestamp is None:
        return f"import-{file_key(path)}-{n}"
    said = (
        event.subject,
        event.content_id,
        event.interaction_type.value,
        event.timestamp.isoformat(),  # UTC from validation (`UtcTime`)
        "" if event.duration_seconds is None else repr(float(event.duration_seconds)),
    )
    return f"import-{_digest(*said, size=32)}"


def interaction_from(
    path: Path, settings: Settings, record: Record
) -> tuple[int, Interaction | BadRow]:
    """(line, interaction) of record n (from 0) of `path`, or the reason it is refused; one
    without an event id gets `import_event_id`."""
    n, line_no, fields = record
    if isinstance(fields, BadRow):
        return line_no, fields
    try:
        event = InteractionIn.model_validate(fields)
    except ValidationError as exc:
        return line_no, BadRow(path, line_no, _reason(exc))
    own_id = None if event.event_id is not None else import_event_id(path, n, event)
    return line_no, event.to_interaction(settings, own_id)
