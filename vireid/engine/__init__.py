"""Training and evaluation: a small toolkit in plain PyTorch, not a framework.

* Training: `fit` (the whole run) over `train_one_epoch` (one pass), returning a `FitResult`;
  the pieces it uses are public too — `build_train_loader`, `build_optimizer`, `lr_factor`,
  `resolve_amp`, `CheckpointManager` / `save_checkpoint` / `load_checkpoint`, `RunLog`,
  `seed_everything`, `init_distributed`.
* Features: `FeatureExtractor` wraps a model as the feature source of the protocol runners;
  `extract_features` returns a path → feature mapping.
* Protocols: `evaluate_sysu`, `evaluate_regdb`, `evaluate_llcm`; `evaluate_validation` scores
  held-out validation identities ([`vireid.data.ValidationSplit`][vireid.data.ValidationSplit]).
"""

from vireid.engine.atomic_files import atomic_open, write_text_atomic
from vireid.engine.checkpoint import (
    CheckpointManager,
    load_checkpoint,
    save_checkpoint,
    unwrap_model,
    versions,
)
from vireid.engine.distributed import DistributedContext, all_gather_rows, init_distributed
from vireid.engine.evaluation import FeatureSource, evaluate_llcm, evaluate_regdb, evaluate_sysu
from vireid.engine.features import FeatureExtractor, extract_features
from vireid.engine.loader import CachedBatches, build_train_loader
from vireid.engine.optim import build_optimizer
from vireid.engine.plots import save_cmc_plot
from vireid.engine.precision import AmpMode, autocast, grad_scaler, resolve_amp
from vireid.engine.reproducibility import get_rng_state, seed_everything, set_rng_state
from vireid.engine.run_log import RunLog, peak_memory_mb
from vireid.engine.schedule import lr_factor, set_learning_rate
from vireid.engine.trainer import EpochStats, FitResult, NonFiniteLossError, fit, train_one_epoch
from vireid.engine.validation import evaluate_validation, validation_score

__all__ = [
    "AmpMode",
    "CachedBatches",
    "CheckpointManager",
    "DistributedContext",
    "EpochStats",
    "FeatureExtractor",
    "FeatureSource",
    "FitResult",
    "NonFiniteLossError",
    "RunLog",
    "all_gather_rows",
    "atomic_open",
    "autocast",
    "build_optimizer",
    "build_train_loader",
    "evaluate_llcm",
    "evaluate_regdb",
    "evaluate_sysu",
    "evaluate_validation",
    "extract_features",
    "fit",
    "get_rng_state",
    "grad_scaler",
    "init_distributed",
    "load_checkpoint",
    "lr_factor",
    "peak_memory_mb",
    "resolve_amp",
    "save_checkpoint",
    "save_cmc_plot",
    "seed_everything",
    "set_learning_rate",
    "set_rng_state",
    "train_one_epoch",
    "unwrap_model",
    "validation_score",
    "versions",
    "write_text_atomic",
]
