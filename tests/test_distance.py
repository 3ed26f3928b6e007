"""pairwise_distance against per-pair formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vireid.metrics import pairwise_distance as from_metrics
from vireid.ops import DISTANCE_METRICS, pairwise_distance


def _pairwise_loop(x, y, metric):
    out = torch.empty(len(x), len(y), dtype=torch.float64)
    for i, a in enumerate(x.double()):
        for j, b in enumerate(y.double()):
            if metric == "cosine":
                out[i, j] = 1 - (a @ b) / (a.norm() * b.norm())
            elif metric == "euclidean":
                out[i, j] = math.sqrt(((a - b) ** 2).sum())
            elif metric == "sqeuclidean":
                out[i, j] = ((a - b) ** 2).sum()
            else:
                out[i, j] = -(a @ b)
    return out


@pytest.mark.parametrize("metric", DISTANCE_METRICS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_per_pair_formula(metric, dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(7, 5, generator=g, dtype=dtype)
    y = torch.randn(4, 5, generator=g, dtype=dtype)
    d = pairwise_distance(x, y, metric)
    assert d.shape == (7, 4) and d.dtype == dtype
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(d.double(), _pairwise_loop(x, y, metric), atol=tol, rtol=tol)


def test_identical_rows_have_zero_distance_and_no_negative_values():
    x = torch.randn(6, 8, dtype=torch.float64)
    for metric in ("euclidean", "sqeuclidean"):
        d = pairwise_distance(x, x, metric)
        assert torch.all(d >= 0)
        assert torch.allclose(d.diagonal(), torch.zeros(6, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(pairwise_distance(x, x).diagonal(), torch.zeros(6, dtype=torch.float64))


def test_numpy_input_half_upcast_and_explicit_dtype():
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    assert pairwise_distance(x, x).dtype == torch.float32
    assert pairwise_distance(torch.from_numpy(x).half(), torch.from_numpy(x).half()).dtype == (
        torch.float32
    )
    assert pairwise_distance(x, x, dtype=torch.float64).dtype == torch.float64
    assert from_metrics is pairwise_distance


@pytest.mark.parametrize(
    ("x", "y", "kwargs", "error", "pattern"),
    [
        (torch.zeros(3), torch.zeros(2, 3), {}, ValueError, r"x must have shape \(N, D\)"),
        (torch.zeros(2, 3), torch.zeros(2, 4), {}, ValueError, "same feature size"),
        (torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3), {}, TypeError, "floating"),
        (torch.zeros(2, 3), torch.zeros(2, 3), {"metric": "manhattan"}, ValueError, "metric"),
        (torch.zeros(2, 3), torch.zeros(2, 3), {"dtype": torch.int32}, TypeError, "dtype"),
        ([1, 2], torch.zeros(2, 3), {}, TypeError, "torch.Tensor or numpy"),
    ],
)
def test_bad_input(x, y, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        pairwise_distance(x, y, **kwargs)
