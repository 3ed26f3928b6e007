"""Reading the dataset list files: ``<relative path> <label>`` indexes and identity lists."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

__all__ = ["IndexEntry", "read_id_list", "read_index_file"]


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


def read_id_list(path: Path, rel: str, problems: list[str]) -> list[int]:
    """Identities of an id-list file (``exp/test_id.txt`` and the like), in file order.

    The official files hold one line of comma-separated ids; re-split files written by hand
    often hold one id per line. Both are read in full — ids separated by commas, newlines or
    both, a UTF-8 byte-order mark and surrounding spaces ignored. Anything else (a token that is
    not an integer, such as ``"12 13"`` or ``"12;13"``) is a problem naming the file and line;
    so are an empty file and repeated ids. Problems are appended to ``problems``; ``rel`` is the
    file's name as shown to the user.
    """
    if not path.is_file():
        problems.append(f"missing id file {rel}")
        return []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        problems.append(f"{rel} is not a UTF-8 text file of identities ({err.reason})")
        return []
    ids: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for piece in line.split(","):
            piece = piece.strip()
            if not piece:
                continue
            try:
                ids.append(int(piece))
            except ValueError:
                problems.append(
                    f"{rel}:{number}: {piece!r} is not an integer identity (ids are separated "
                    "by commas or newlines)"
                )
    if not ids and not any(p.startswith(f"{rel}:") for p in problems):
        problems.append(f"{rel} holds no identity")
    if len(set(ids)) != len(ids):
        repeated = sorted(i for i, count in Counter(ids).items() if count > 1)
        problems.append(f"{rel} lists some identities more than once: {repeated[:8]}")
    return ids
