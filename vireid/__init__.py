"""vireid: PyTorch building blocks for visible-infrared person re-identification.

Subpackages (imports point downward only; each loads on first use, so taking one piece does not
pull in the others):

* [`vireid.metrics`][vireid.metrics] — protocol-exact CMC / mAP / mINP, exclusion rules, trial
  averaging.
* [`vireid.ops`][vireid.ops] — small numeric kernels: pairwise distances, exact differentiable soft
  rank/sort.
* [`vireid.augment`][vireid.augment] — MCJA and CAJ modality augmentations, per image and batched on
  the device.
* [`vireid.nn`][vireid.nn] — network blocks: gradient reversal, modality classifier, purifier, MDA,
  non-local, GeM, BN neck.
* [`vireid.losses`][vireid.losses] — CMR, the IDKL alignment losses, the identity/triplet family,
  distribution consistency.
* [`vireid.data`][vireid.data] — dataset readers (SYSU-MM01, RegDB, LLCM), `Sample`, `ImageDataset`,
  P×K samplers, synthetic data, validation splits.
* [`vireid.models`][vireid.models] — the MCJA and AGW assemblies with their criteria and recipes;
  ResNet backbones.
* [`vireid.engine`][vireid.engine] — training loop, checkpoints, logs, DDP, feature extraction,
  protocol runners.
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
