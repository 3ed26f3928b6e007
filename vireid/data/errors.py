"""Errors raised by the dataset readers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["DatasetLayoutError"]


class DatasetLayoutError(ValueError):
    """A dataset folder does not have the expected layout.

    The message lists **every** problem found, not only the first, followed by a hint on how to
    obtain or arrange the dataset.

    Attributes:
        root: The dataset folder that was checked.
        problems: One line per problem.
    """

    def __init__(self, dataset: str, root: Path, problems: Sequence[str], hint: str = "") -> None:
        self.root = Path(root)
        self.problems = list(problems)
        lines = [f"{dataset} at {self.root} has {len(self.problems)} layout problem(s):"]
        lines += [f"  - {p}" for p in self.problems]
        if hint:
            lines.append(hint)
        super().__init__("\n".join(lines))
