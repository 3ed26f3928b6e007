"""CUDA results agree with CPU results (skipped without a GPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vireid.metrics import pairwise_distance, rank_metrics

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("exclude", [None, "sysu", "same_id_same_camera"])
@pytest.mark.parametrize("dedup", [False, True])
@pytest.mark.parametrize("ties", [False, True])
def test_cuda_matches_cpu(exclude, dedup, ties):
    rng = np.random.default_rng(0)
    num_q, num_g = 300, 1200
    dist = rng.integers(0, 5, (num_q, num_g)) if ties else rng.standard_normal((num_q, num_g))
    dist = torch.from_numpy(dist.astype(np.float64))
    qi, gi = rng.integers(0, 40, num_q), rng.integers(0, 40, num_g)
    qc, gc = rng.integers(1, 7, num_q), rng.integers(1, 7, num_g)
    cpu = rank_metrics(dist, qi, gi, qc, gc, exclude=exclude, dedup_cmc=dedup)
    gpu = rank_metrics(
        dist.cuda(), torch.from_numpy(qi).cuda(), gi, qc, gc, exclude=exclude, dedup_cmc=dedup
    )
    assert gpu.cmc.device.type == "cpu"
    torch.testing.assert_close(gpu.cmc, cpu.cmc, atol=1e-12, rtol=0)
    assert gpu.mAP == pytest.approx(cpu.mAP, abs=1e-12)
    assert gpu.mINP == pytest.approx(cpu.mINP, abs=1e-12)


def test_pairwise_distance_keeps_device():
    x = torch.randn(5, 8, device="cuda")
    assert pairwise_distance(x, x).device.type == "cuda"
