"""Files and folders the product creates, readable by its own user only (0600 and 0700).

The database, the disk cache, model artifacts and exported lists hold what people did; the
process umask (often 022) would leave them readable by every account on the host. Only what is
created here gets these modes: an existing file or folder keeps the one it has (an operator's
choice, or an older version's: docs/security.md says how to tighten those).
"""

import os
from pathlib import Path
from typing import TextIO

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """`path` and every missing folder above it, created owner-only."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
    return path


def private_file(path: Path) -> Path:
    """`path` created empty and owner-only if it is not there yet (its folder likewise), for a
    library that creates the file itself: SQLite gives its -wal and -shm the database's mode."""
    private_dir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    return path


def _owner_only(name: str, flags: int) -> int:
    return os.open(name, flags, FILE_MODE)


def open_private(path: Path, newline: str | None = None) -> TextIO:
    """`path` opened for writing UTF-8 text, created owner-only if new."""
    return open(path, "w", encoding="utf-8", newline=newline, opener=_owner_only)


def make_private(tree: Path) -> None:
    """Every folder and file under `tree` (itself included) made owner-only: for what a library
    wrote with the umask's modes (model artifacts) before it is published."""
    tree.chmod(DIR_MODE)
    for root, folders, files in os.walk(tree):
        for name in folders:
            Path(root, name).chmod(DIR_MODE)
        for name in files:
            Path(root, name).chmod(FILE_MODE)
