"""vireid: PyTorch building blocks for visible-infrared person re-identification.

Subpackages (imports point downward only; each loads on first use, so taking one piece does not
pull in the others):

* `vireid.metrics` — protocol-exact CMC / mAP / mINP, exclusion rules, trial averaging.
* `vireid.ops` — small numeric kernels (pairwise distances; soft rank/sort to come).
* `vireid.data` — dataset readers (SYSU-MM01, RegDB, LLCM), `Sample`, `ImageDataset`.
* `vireid.engine` — benchmark protocol runners.
* `vireid.augment`, `vireid.nn`, `vireid.losses`, `vireid.models` — filled in by later releases.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0.dev0"

_SUBPACKAGES = ("augment", "data", "engine", "losses", "metrics", "models", "nn", "ops")

__all__ = ["__version__", *_SUBPACKAGES]


def __getattr__(name: str) -> ModuleType:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"vireid.{name}")
    raise AttributeError(f"module 'vireid' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
