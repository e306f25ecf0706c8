"""A CSV written with another separator than commas: said so, rather than a missing column."""

from collections.abc import Sequence

#: The separators spreadsheets also export with, as a message names them.
OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs"}


def other_separator(header: Sequence[str]) -> str | None:
    """Why a header of one name holding `;` or a tab cannot be read, else None: every row
    would be refused for a column it seems to lack."""
    if len(header) == 1 and (used := [w for s, w in OTHER_SEPARATORS.items() if s in header[0]]):
        return f"columns separated by {used[0]}: export the file with commas between them"
    return None
