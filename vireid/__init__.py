"""vireid: PyTorch building blocks for visible-infrared person re-identification.

Subpackages (imports point downward only; see ``ARCHITECTURE``):

* `vireid.metrics` — protocol-exact CMC / mAP / mINP, exclusion rules, trial averaging.
* `vireid.ops` — small numeric kernels (pairwise distances; soft rank/sort to come).
* `vireid.augment`, `vireid.nn`, `vireid.losses`, `vireid.data`, `vireid.models`,
  `vireid.engine` — filled in by later releases.
"""

from vireid import augment, data, engine, losses, metrics, models, nn, ops

__version__ = "0.1.0.dev0"

__all__ = [
    "__version__",
    "augment",
    "data",
    "engine",
    "losses",
    "metrics",
    "models",
    "nn",
    "ops",
]
