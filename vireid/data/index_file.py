"""Reading the ``<relative path> <label>`` index files of RegDB and LLCM."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["IndexEntry", "read_index_file"]


@dataclass(frozen=True)
class IndexEntry:
    """One line of an index file.

    Attributes:
        where: ``"idx/<file>:<line>"``, for error messages.
        rel: The image path relative to the dataset root.
        label: The integer label column.
        pid: The identity: the integer name of the image's parent folder.
    """

    where: str
    rel: Path
    label: int
    pid: int


def read_index_file(root: Path, name: str, problems: list[str]) -> list[IndexEntry]:
    """Parse ``root/idx/name``; append every problem to ``problems`` instead of raising.

    Lines must be ``<path relative to root> <integer label>`` with the image in an integer-named
    identity folder, and the image must exist. Blank lines are skipped; a missing file is one
    problem.
    """
    path = root / "idx" / name
    if not path.is_file():
        problems.append(f"missing index file idx/{name}")
        return []
    out = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = f"idx/{name}:{number}"
        parts = line.split()
        if len(parts) != 2:
            problems.append(f"{where}: expected '<path> <label>', got {line!r}")
            continue
        rel = Path(parts[0])
        try:
            label, pid = int(parts[1]), int(rel.parent.name)
        except ValueError:
            problems.append(f"{where}: label and identity folder must be integers: {line!r}")
            continue
        if not (root / rel).is_file():
            problems.append(f"{where}: image {rel} is missing")
            continue
        out.append(IndexEntry(where, rel, label, pid))
    return out
