"""Hypothesis property tests of the ranking evaluator."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.baselines.ranking_loop import loop_rank_metrics
from vireid.metrics import rank_metrics


@st.composite
def problems(draw, distinct=True):
    num_q = draw(st.integers(1, 12))
    num_g = draw(st.integers(1, 40))
    num_ids = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    q_ids = rng.integers(0, num_ids, num_q)
    g_ids = rng.integers(0, num_ids, num_g)
    # Make at least one query valid.
    g_ids[rng.integers(0, num_g)] = q_ids[0]
    q_cams = rng.integers(1, 7, num_q)
    g_cams = rng.integers(1, 7, num_g)
    if distinct:
        # Distinct small integers per row: exact in every dtype, no ties.
        dist = np.stack([rng.permutation(num_g) for _ in range(num_q)]).astype(np.float64)
    else:
        dist = rng.integers(0, 3, (num_q, num_g)).astype(np.float64)
    exclude = draw(st.sampled_from([None, "sysu", "same_camera", "same_id_same_camera"]))
    return dist, q_ids, g_ids, q_cams, g_cams, exclude


def _run(p, dist=None, dedup=False, **kw):
    d, qi, gi, qc, gc, exclude = p
    try:
        return rank_metrics(
            d if dist is None else dist, qi, gi, qc, gc, exclude=exclude, dedup_cmc=dedup, **kw
        )
    except ValueError:
        return None


def _same(a, b):
    if a is None or b is None:
        return a is None and b is None
    return (
        torch.allclose(a.cmc, b.cmc, atol=1e-12, rtol=0)
        and abs(a.mAP - b.mAP) < 1e-12
        and abs(a.mINP - b.mINP) < 1e-12
        and a.num_valid == b.num_valid
    )


@settings(max_examples=60, deadline=None)
@given(problems(distinct=False), st.booleans(), st.integers(1, 5))
def test_agrees_with_loop_oracle_including_ties(p, dedup, chunk):
    d, qi, gi, qc, gc, exclude = p
    try:
        oracle = loop_rank_metrics(d, qi, gi, qc, gc, exclude=exclude, dedup_cmc=dedup)
    except ValueError:
        assert _run(p, dedup=dedup) is None
        return
    r = _run(p, dedup=dedup, chunk_size=chunk)
    np.testing.assert_allclose(r.cmc.numpy(), oracle.cmc, atol=1e-12, rtol=0)
    assert abs(r.mAP - oracle.mAP) < 1e-12 and abs(r.mINP - oracle.mINP) < 1e-12


@settings(max_examples=60, deadline=None)
@given(problems(), st.booleans(), st.integers(0, 2**32 - 1))
def test_gallery_permutation_invariance_without_ties(p, dedup, seed):
    d, qi, gi, qc, gc, exclude = p
    perm = np.random.default_rng(seed).permutation(d.shape[1])
    permuted = (d[:, perm], qi, gi[perm], qc, gc[perm], exclude)
    assert _same(_run(p, dedup=dedup), _run(permuted, dedup=dedup))


@settings(max_examples=60, deadline=None)
@given(
    problems(distinct=False),
    st.booleans(),
    st.sampled_from(["affine", "cube", "exp", "shift_negative"]),
)
def test_invariance_to_strictly_increasing_transforms(p, dedup, transform):
    d = p[0]
    moved = {
        "affine": 3.0 * d + 7.0,
        "cube": d**3 + d,
        "exp": np.exp(d / 4.0),
        "shift_negative": d - 1e6,
    }[transform]
    assert _same(_run(p, dedup=dedup), _run(p, dist=moved, dedup=dedup))


@settings(max_examples=60, deadline=None)
@given(problems(distinct=False))
def test_dedup_cmc_dominates_standard_with_equal_rank1(p):
    standard, dedup = _run(p, dedup=False), _run(p, dedup=True)
    if standard is None:
        assert dedup is None
        return
    assert torch.all(dedup.cmc >= standard.cmc)
    assert dedup.cmc[0] == standard.cmc[0]
    assert dedup.mAP == standard.mAP and dedup.mINP == standard.mINP
