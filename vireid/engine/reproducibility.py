"""Seeding, the determinism switch, and every random state a bit-exact resume needs."""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

__all__ = ["get_rng_state", "seed_everything", "set_rng_state"]


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (every device); optionally force deterministic kernels.

    ``deterministic=True`` turns on ``torch.use_deterministic_algorithms`` (warn-only for ops
    without a deterministic kernel), cuDNN's deterministic mode without benchmarking, and sets
    ``CUBLAS_WORKSPACE_CONFIG``; runs are then repeatable on one machine at some cost in speed.
    Otherwise cuDNN benchmarks convolution algorithms (faster for fixed input sizes).
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - user code may draw from NumPy's global RNG
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True


def get_rng_state(generators: dict[str, torch.Generator] | None = None) -> dict[str, Any]:
    """Python, NumPy, torch CPU/CUDA generator states, plus the named ``generators``.

    Everything is stored as tensors, numbers and strings, so a checkpoint holding it loads with
    ``torch.load(..., weights_only=True)``.
    """
    version, internal, gauss = random.getstate()
    numpy_state = np.random.get_state(legacy=True)  # noqa: NPY002
    if not isinstance(numpy_state, tuple):
        # Legacy states exist for MT19937 only; another bit generator (installed with
        # numpy.random.set_bit_generator) has a dict state that does not fit this record.
        raise RuntimeError(
            "get_rng_state supports NumPy's default MT19937 global generator only, got "
            f"{numpy_state.get('bit_generator')!r}"
        )
    name, keys, pos, has_gauss, cached = numpy_state
    state: dict[str, Any] = {
        "python": {"version": version, "state": torch.tensor(internal), "gauss": gauss},
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": pos,
            "has_gauss": has_gauss,
            "cached": cached,
        },
        "torch": torch.get_rng_state(),
        "generators": {k: g.get_state() for k, g in (generators or {}).items()},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()  # this process's current device only
    return state


def set_rng_state(
    state: dict[str, Any], generators: dict[str, torch.Generator] | None = None
) -> None:
    """Restore what `get_rng_state` captured (CUDA states only when CUDA is available)."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))
    npy = state["numpy"]
    keys = npy["keys"].cpu().numpy().astype(np.uint32)
    np.random.set_state((npy["name"], keys, npy["pos"], npy["has_gauss"], npy["cached"]))  # noqa: NPY002
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].cpu())
    for name, gen in (generators or {}).items():
        if name in state.get("generators", {}):
            gen.set_state(state["generators"][name].cpu())
