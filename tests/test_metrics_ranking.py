"""rank_metrics and the dataset evaluators against independent oracles."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import vireid.metrics.ranking as ranking_module
from benchmarks.baselines.ranking_loop import (
    agw_eval_regdb,
    agw_eval_sysu,
    deen_eval_llcm,
    loop_rank_metrics,
    mpanet_eval_sysu,
)
from benchmarks.baselines.ranking_numpy import numpy_rank_metrics
from vireid.metrics import (
    exclusion_mask,
    llcm_metrics,
    rank_metrics,
    regdb_metrics,
    sysu_metrics,
)

RULES = [None, "sysu", "same_id_same_camera", "same_camera"]


def random_problem(rng, num_q, num_g, num_ids, ties=False, cams=(1, 7)):
    q_ids = rng.integers(0, num_ids, num_q)
    g_ids = rng.integers(0, num_ids, num_g)
    q_cams = rng.integers(*cams, num_q)
    g_cams = rng.integers(*cams, num_g)
    if ties:
        dist = rng.integers(0, 4, (num_q, num_g)).astype(np.float64)
    else:
        dist = rng.standard_normal((num_q, num_g))
    return dist, q_ids, g_ids, q_cams, g_cams


def assert_same(result, oracle, atol=1e-12):
    np.testing.assert_allclose(result.cmc.numpy(), oracle.cmc, rtol=0, atol=atol)
    assert result.mAP == pytest.approx(oracle.mAP, abs=atol)
    assert result.mINP == pytest.approx(oracle.mINP, abs=atol)
    assert result.num_valid == oracle.num_valid


# --- spec §4.9 test vector ---------------------------------------------------------------

# Query pid 7, camera 3; gallery already in distance order as (pid, cam).
VECTOR_GALLERY = [(7, 2), (5, 2), (5, 1), (5, 4), (7, 1), (9, 5), (7, 5)]


def _vector(exclude, dedup):
    g_ids = [p for p, _ in VECTOR_GALLERY]
    g_cams = [c for _, c in VECTOR_GALLERY]
    dist = torch.arange(7, dtype=torch.float64)[None, :]
    if exclude == "same_pid_only":
        mask = torch.tensor([[p == 7 and c == 2 for p, c in VECTOR_GALLERY]])
        return rank_metrics(dist, [7], g_ids, exclude=mask, dedup_cmc=dedup, max_rank=3)
    return rank_metrics(dist, [7], g_ids, [3], g_cams, exclude=exclude, dedup_cmc=dedup, max_rank=3)


@pytest.mark.parametrize(
    ("exclude", "std_cmc", "dedup_cmc", "ap", "inp"),
    [
        ("sysu", [0, 0, 1], [0, 1, 1], (1 / 3 + 2 / 5) / 2, 2 / 5),
        ("same_pid_only", [0, 0, 0], [0, 1, 1], (1 / 4 + 2 / 6) / 2, 2 / 6),
        (None, [1, 1, 1], [1, 1, 1], (1 + 2 / 5 + 3 / 7) / 3, 3 / 7),
    ],
)
def test_spec_test_vector(exclude, std_cmc, dedup_cmc, ap, inp):
    standard = _vector(exclude, dedup=False)
    dedup = _vector(exclude, dedup=True)
    assert standard.cmc.tolist() == std_cmc
    assert dedup.cmc.tolist() == dedup_cmc
    for r in (standard, dedup):
        assert r.mAP == pytest.approx(ap, abs=1e-12)
        assert r.mINP == pytest.approx(inp, abs=1e-12)


def test_spec_test_vector_rounded_values():
    r = _vector("sysu", dedup=True)
    assert round(r.mAP, 6) == 0.366667
    assert r.mINP == pytest.approx(0.4)


# --- agreement with the loop oracle ------------------------------------------------------


@pytest.mark.parametrize("exclude", RULES)
@pytest.mark.parametrize("dedup", [False, True])
@pytest.mark.parametrize("ties", [False, True])
def test_matches_loop_oracle(exclude, dedup, ties):
    rng = np.random.default_rng(hash((str(exclude), dedup, ties)) % 2**32)
    for _ in range(15):
        num_q, num_g = rng.integers(1, 25), rng.integers(1, 50)
        dist, qi, gi, qc, gc = random_problem(rng, num_q, num_g, rng.integers(1, 8), ties=ties)
        try:
            oracle = loop_rank_metrics(dist, qi, gi, qc, gc, exclude=exclude, dedup_cmc=dedup)
        except ValueError:
            with pytest.raises(ValueError, match="no valid query"):
                rank_metrics(dist, qi, gi, qc, gc, exclude=exclude, dedup_cmc=dedup)
            continue
        for chunk in (None, 1, 4):
            result = rank_metrics(
                dist, qi, gi, qc, gc, exclude=exclude, dedup_cmc=dedup, chunk_size=chunk
            )
            assert_same(result, oracle)


@pytest.mark.parametrize("bins_per_item", [0.001, 0.5, 8.0])
@pytest.mark.parametrize("dedup", [False, True])
def test_bin_resolution_does_not_change_results(monkeypatch, bins_per_item, dedup):
    """Coarse bins push many items into the exact-comparison path; fine bins almost none."""
    monkeypatch.setattr(ranking_module, "_BINS_PER_ITEM", bins_per_item)
    rng = np.random.default_rng(7)
    for ties in (False, True):
        dist, qi, gi, qc, gc = random_problem(rng, 30, 400, 12, ties=ties)
        oracle = loop_rank_metrics(dist, qi, gi, qc, gc, exclude="sysu", dedup_cmc=dedup)
        assert_same(rank_metrics(dist, qi, gi, qc, gc, exclude="sysu", dedup_cmc=dedup), oracle)


@pytest.mark.parametrize("dedup", [False, True])
def test_sort_fallback_path_matches_oracle(monkeypatch, dedup):
    monkeypatch.setattr(ranking_module, "_SORT_FALLBACK_FACTOR", -1)
    rng = np.random.default_rng(3)
    for exclude in RULES:
        dist, qi, gi, qc, gc = random_problem(rng, 20, 60, 5, ties=True)
        oracle = loop_rank_metrics(dist, qi, gi, qc, gc, exclude=exclude, dedup_cmc=dedup)
        result = rank_metrics(dist, qi, gi, qc, gc, exclude=exclude, dedup_cmc=dedup)
        assert_same(result, oracle)


def test_one_huge_identity_with_ties_takes_the_sort_path(monkeypatch):
    # Almost every gallery item shares one identity and distances tie massively: binning would
    # compare everything with everything, so the evaluator sorts instead. Results stay exact.
    calls = []
    original = ranking_module._sorted_path

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(ranking_module, "_sorted_path", spy)
    rng = np.random.default_rng(5)
    dist = rng.integers(0, 3, (10, 3000)).astype(np.float64)
    gi = np.zeros(3000, dtype=np.int64)
    gi[::7] = 1
    qi = rng.integers(0, 2, 10)
    for dedup in (False, True):
        oracle = loop_rank_metrics(dist, qi, gi, dedup_cmc=dedup)
        assert_same(rank_metrics(dist, qi, gi, dedup_cmc=dedup), oracle)
    assert calls


@pytest.mark.parametrize("exclude", RULES)
def test_realistic_scale_matches_numpy_oracle(exclude):
    # Many true matches per query (up to 40, as in SYSU-MM01 multi-shot), a trained-model-like
    # distance structure, several blocks of queries.
    rng = np.random.default_rng(17)
    num_ids, dim = 60, 24
    q_ids = rng.integers(0, num_ids, 400)
    g_ids = np.repeat(np.arange(num_ids), 40)
    centres = rng.standard_normal((num_ids, dim))
    q = centres[q_ids] + 0.9 * rng.standard_normal((400, dim))
    g = centres[g_ids] + 0.9 * rng.standard_normal((len(g_ids), dim))
    dist = -(q @ g.T)
    q_cams, g_cams = rng.choice([3, 6], 400), rng.choice([1, 2, 4, 5], len(g_ids))
    for dedup in (False, True):
        oracle = numpy_rank_metrics(dist, q_ids, g_ids, q_cams, g_cams, exclude, dedup)
        result = rank_metrics(
            dist, q_ids, g_ids, q_cams, g_cams, exclude=exclude, dedup_cmc=dedup, chunk_size=64
        )
        assert_same(result, oracle, atol=1e-12)
        assert 0.2 < result.mAP < 0.95


def test_numpy_baseline_agrees_with_loop_oracle():
    rng = np.random.default_rng(11)
    for exclude in RULES:
        for dedup in (False, True):
            dist, qi, gi, qc, gc = random_problem(rng, 20, 40, 6, ties=True)
            try:
                a = loop_rank_metrics(dist, qi, gi, qc, gc, exclude=exclude, dedup_cmc=dedup)
            except ValueError:
                continue
            b = numpy_rank_metrics(dist, qi, gi, qc, gc, exclude=exclude, dedup_cmc=dedup)
            np.testing.assert_allclose(a.cmc, b.cmc, atol=1e-12)
            assert a.mAP == pytest.approx(b.mAP, abs=1e-12)
            assert a.mINP == pytest.approx(b.mINP, abs=1e-12)


# --- reproduction of the reference evaluators (tie-free inputs) ----------------------------


def _sysu_like(rng, num_q=300, num_ids=40, shots=2):
    q_ids = rng.integers(0, num_ids, num_q)
    q_cams = rng.choice([3, 6], num_q)
    g_ids, g_cams = [], []
    for pid in range(num_ids):
        for cam in (1, 2, 4, 5):
            if rng.random() < 0.8 or cam == 1:
                g_ids += [pid] * shots
                g_cams += [cam] * shots
    g_ids, g_cams = np.asarray(g_ids), np.asarray(g_cams)
    centres = rng.standard_normal((num_ids, 32))
    qf = centres[q_ids] + 1.3 * rng.standard_normal((num_q, 32))
    gf = centres[g_ids] + 1.3 * rng.standard_normal((len(g_ids), 32))
    qf /= np.linalg.norm(qf, axis=1, keepdims=True)
    gf /= np.linalg.norm(gf, axis=1, keepdims=True)
    return -(qf @ gf.T), q_ids, g_ids, q_cams, g_cams


@pytest.mark.parametrize("shots", [1, 10])
def test_sysu_metrics_reproduce_agw_eval_sysu(shots):
    rng = np.random.default_rng(shots)
    dist, qi, gi, qc, gc = _sysu_like(rng, shots=shots)
    cmc, mAP, mINP = agw_eval_sysu(dist, qi, gi, qc, gc)
    r = sysu_metrics(dist, qi, gi, qc, gc)
    np.testing.assert_allclose(r.cmc.numpy(), cmc, rtol=0, atol=1e-6)
    assert abs(r.mAP - mAP) < 1e-6
    assert abs(r.mINP - mINP) < 1e-6
    assert 0.05 < r.rank(1) < 0.95  # a non-trivial ranking, so agreement means something


@pytest.mark.parametrize("shots", [1, 10])
def test_sysu_metrics_reproduce_mpanet_eval_sysu(shots):
    rng = np.random.default_rng(100 + shots)
    dist, qi, gi, qc, gc = _sysu_like(rng, shots=shots)
    cmc, mAP, mINP = mpanet_eval_sysu(dist, qi, gi, qc, gc)
    r = sysu_metrics(dist, qi, gi, qc, gc)
    np.testing.assert_allclose(r.cmc.numpy(), cmc[:20], rtol=0, atol=1e-6)
    assert abs(r.mAP - mAP) < 1e-6
    assert abs(r.mINP - mINP) < 1e-6


def test_sysu_cam3_query_drops_cam2_items_of_every_identity():
    # A camera-3 query whose only near neighbours are camera-2 items of other identities.
    dist = torch.tensor([[0.1, 0.2, 0.3, 0.4]], dtype=torch.float64)
    r = sysu_metrics(dist, [1], [2, 3, 1, 4], [3], [2, 2, 1, 5])
    assert r.rank(1) == 1.0
    assert r.mAP == 1.0
    # The same items seen by a camera-6 query are not removed.
    r6 = sysu_metrics(dist, [1], [2, 3, 1, 4], [6], [2, 2, 1, 5])
    assert r6.rank(1) == 0.0 and r6.rank(3) == 1.0


def test_regdb_metrics_reproduce_agw_eval_regdb():
    rng = np.random.default_rng(21)
    ids = np.repeat(np.arange(30), 10)
    centres = rng.standard_normal((30, 16))
    v = centres[ids] + 1.2 * rng.standard_normal((300, 16))
    t = centres[ids] + 1.2 * rng.standard_normal((300, 16))
    dist = -(v @ t.T)
    for d in (dist, dist.T.copy()):
        cmc, mAP, mINP = agw_eval_regdb(d, ids, ids)
        r = regdb_metrics(d, ids, ids)
        np.testing.assert_allclose(r.cmc.numpy(), cmc, rtol=0, atol=1e-6)
        assert abs(r.mAP - mAP) < 1e-6 and abs(r.mINP - mINP) < 1e-6
        dedup = regdb_metrics(d, ids, ids, dedup_cmc=True)
        assert dedup.rank(1) == r.rank(1) and dedup.mAP == r.mAP
        assert dedup.cmc_variant == "dedup" and r.cmc_variant == "standard"


def test_llcm_metrics_reproduce_deen_eval_llcm():
    rng = np.random.default_rng(31)
    dist, qi, gi, qc, gc = random_problem(rng, 200, 150, 20, cams=(1, 10))
    cmc, mAP, mINP = deen_eval_llcm(dist, qi, gi, qc, gc)
    r = llcm_metrics(dist, qi, gi, qc, gc)
    np.testing.assert_allclose(r.cmc.numpy(), cmc, rtol=0, atol=1e-6)
    assert abs(r.mAP - mAP) < 1e-6 and abs(r.mINP - mINP) < 1e-6
    assert r.exclude == "same_id_same_camera" and r.cmc_variant == "dedup"


# --- edge cases -----------------------------------------------------------------------------


def test_invalid_queries_leave_every_denominator():
    # Query 0 matches at rank 1; query 1 has no match in the gallery; query 2's only match is
    # removed by the same-camera rule.
    dist = torch.tensor([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    r = rank_metrics(
        dist, [1, 9, 3], [1, 2, 3], [1, 1, 5], [2, 2, 5], exclude="same_id_same_camera"
    )
    assert r.num_valid == 1 and r.num_queries == 3
    assert r.rank(1) == 1.0 and r.mAP == 1.0 and r.mINP == 1.0


def test_gallery_smaller_than_max_rank_clips_the_cmc():
    r = rank_metrics(torch.tensor([[0.3, 0.1, 0.2]]), [1], [1, 2, 3], max_rank=20)
    assert r.cmc.tolist() == [0.0, 0.0, 1.0]
    assert r.max_rank == 20


def test_cmc_stays_reached_after_filtered_list_ends():
    # Exclusion shortens the ranked list below max_rank; a found match stays found.
    dist = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
    r = rank_metrics(dist, [1], [2, 1, 3, 3], [3], [2, 1, 2, 2], exclude="sysu", max_rank=4)
    assert r.cmc.tolist() == [1.0, 1.0, 1.0, 1.0]


def test_single_identity_gallery():
    dist = torch.tensor([[0.5, 0.1, 0.9], [0.2, 0.3, 0.1]])
    r = rank_metrics(dist, [4, 4], [4, 4, 4], dedup_cmc=True)
    assert r.cmc.tolist() == [1.0, 1.0, 1.0]
    assert r.mAP == 1.0 and r.mINP == 1.0


def test_everything_excluded_raises():
    dist = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="no valid query"):
        rank_metrics(dist, [1, 1], [1, 1, 1], [2, 2], [2, 2, 2], exclude="same_camera")
    with pytest.raises(ValueError, match="no valid query"):
        rank_metrics(dist, [1, 2], [3, 3, 3])


def test_exact_ties_are_broken_by_gallery_index():
    dist = torch.zeros(1, 4)
    r = rank_metrics(dist, [1], [2, 1, 2, 1])
    assert r.rank(1) == 0.0 and r.rank(2) == 1.0
    assert r.mAP == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert r.mINP == pytest.approx(2 / 4)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.int32])
def test_dtypes_agree_with_float64(dtype):
    rng = np.random.default_rng(2)
    dist, qi, gi, qc, gc = random_problem(rng, 30, 80, 6, ties=True)  # small integers: exact
    ref = rank_metrics(torch.from_numpy(dist), qi, gi, qc, gc, exclude="sysu", dedup_cmc=True)
    r = rank_metrics(
        torch.from_numpy(dist).to(dtype), qi, gi, qc, gc, exclude="sysu", dedup_cmc=True
    )
    assert torch.equal(r.cmc, ref.cmc) and r.mAP == ref.mAP and r.mINP == ref.mINP


def test_numpy_and_torch_inputs_agree():
    rng = np.random.default_rng(4)
    dist, qi, gi, qc, gc = random_problem(rng, 20, 30, 5)
    a = rank_metrics(dist, qi, gi, qc, gc, exclude="same_camera")
    b = rank_metrics(
        torch.from_numpy(dist),
        torch.from_numpy(qi),
        list(gi),
        torch.from_numpy(qc),
        torch.from_numpy(gc),
        exclude="same_camera",
    )
    assert torch.equal(a.cmc, b.cmc) and a.mAP == b.mAP


def test_transposed_and_read_only_inputs(recwarn):
    rng = np.random.default_rng(6)
    dist, qi, gi, _, _ = random_problem(rng, 30, 50, 5)
    ref = rank_metrics(dist, qi, gi, dedup_cmc=True)
    transposed = torch.from_numpy(np.ascontiguousarray(dist.T)).T
    assert not transposed.is_contiguous()
    r = rank_metrics(transposed, qi, gi, dedup_cmc=True)
    assert torch.equal(r.cmc, ref.cmc) and r.mAP == ref.mAP
    frozen = dist.copy()
    frozen.flags.writeable = False
    r = rank_metrics(frozen, qi, gi, dedup_cmc=True)
    assert r.mAP == ref.mAP
    assert not [w for w in recwarn if "writable" in str(w.message)]


def test_values_beyond_float32_range():
    rng = np.random.default_rng(8)
    dist, qi, gi, _, _ = random_problem(rng, 15, 40, 5)
    big = dist * 1e300
    a = rank_metrics(big, qi, gi, dedup_cmc=True)
    b = rank_metrics(dist, qi, gi, dedup_cmc=True)
    assert torch.equal(a.cmc, b.cmc) and a.mAP == b.mAP


def test_distances_that_differ_only_beyond_float32_precision():
    # Binning happens in float32; the exact comparisons must still see float64 differences.
    rng = np.random.default_rng(9)
    dist, qi, gi, _, _ = random_problem(rng, 20, 60, 5)
    tiny = 1.0 + dist * 1e-12
    assert_same(rank_metrics(tiny, qi, gi), loop_rank_metrics(tiny, qi, gi))


def test_mask_and_callable_exclusions_equal_the_named_rule():
    rng = np.random.default_rng(12)
    dist, qi, gi, qc, gc = random_problem(rng, 25, 60, 6)
    named = rank_metrics(dist, qi, gi, qc, gc, exclude="same_id_same_camera", dedup_cmc=True)
    mask = exclusion_mask("same_id_same_camera", *(torch.from_numpy(a) for a in (qi, gi, qc, gc)))
    by_mask = rank_metrics(dist, qi, gi, exclude=mask.numpy(), dedup_cmc=True, chunk_size=7)

    def same_id_same_cam(q_ids, g_ids, q_cams, g_cams):
        return (q_ids[:, None] == g_ids[None, :]) & (q_cams[:, None] == g_cams[None, :])

    by_fn = rank_metrics(
        dist, qi, gi, qc, gc, exclude=same_id_same_cam, dedup_cmc=True, chunk_size=7
    )
    for r in (by_mask, by_fn):  # other block sizes: the sums differ only in rounding order
        assert torch.equal(r.cmc, named.cmc)
        assert r.mAP == pytest.approx(named.mAP, abs=1e-14)
        assert r.mINP == pytest.approx(named.mINP, abs=1e-14)
    assert by_mask.exclude == "custom_mask"
    assert by_fn.exclude == "custom:same_id_same_cam"


def test_result_record_is_json_serialisable():
    r = sysu_metrics(torch.tensor([[0.1, 0.2]]), [1], [1, 2], [3], [1, 4])
    d = json.loads(json.dumps(r.to_dict()))
    assert d["exclude"] == "sysu" and d["cmc_variant"] == "dedup" and d["cmc"] == [1.0, 1.0]


# --- input validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        (dict(dist=torch.zeros(3)), ValueError, r"shape \(Q, G\)"),
        (dict(dist=torch.zeros(2, 3, dtype=torch.bool)), TypeError, "real numbers"),
        (dict(dist=torch.zeros(0, 3)), ValueError, "at least one query"),
        (dict(dist="x"), TypeError, "torch.Tensor or numpy.ndarray"),
        (dict(query_ids=[1]), ValueError, "query_ids has 1 entries but dist has 2"),
        (dict(gallery_ids=[1, 2]), ValueError, "gallery_ids has 2 entries"),
        (dict(query_ids=[1.0, 2.0]), TypeError, "query_ids must hold integers"),
        (dict(gallery_ids=torch.tensor([1.0, 2.0, 3.0])), TypeError, "gallery_ids must hold"),
        (dict(query_ids=torch.zeros(2, 1, dtype=torch.long)), ValueError, "must be 1-D"),
        (dict(exclude="sysu"), ValueError, "needs camera ids"),
        (dict(exclude="market"), ValueError, "exclude must be None, one of"),
        (dict(exclude=torch.zeros(2, 2, dtype=torch.bool)), ValueError, r"shape \(Q, G\)"),
        (dict(exclude=torch.zeros(2, 3)), TypeError, "dtype bool"),
        (dict(exclude=3), TypeError, "exclude must be None"),
        (dict(max_rank=0), ValueError, "max_rank must be >= 1"),
        (dict(max_rank=2.5), TypeError, "max_rank must be a positive int"),
        (dict(chunk_size=0), ValueError, "chunk_size must be >= 1"),
        (dict(dedup_cmc=1), TypeError, "dedup_cmc must be a bool"),
    ],
)
def test_bad_input_gets_a_clear_error(kwargs, error, pattern):
    args = dict(dist=torch.rand(2, 3), query_ids=[1, 2], gallery_ids=[1, 2, 3])
    args.update(kwargs)
    dist, q, g = args.pop("dist"), args.pop("query_ids"), args.pop("gallery_ids")
    with pytest.raises(error, match=pattern):
        rank_metrics(dist, q, g, **args)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_distances_are_rejected_with_their_position(bad):
    dist = torch.rand(3, 4)
    dist[2, 1] = bad
    with pytest.raises(ValueError, match=r"1 NaN/inf entries, the first at \[query 2, gallery 1\]"):
        rank_metrics(dist, [1, 2, 3], [1, 2, 3, 4])


def test_callable_returning_the_wrong_shape_is_reported():
    def broken(q_ids, g_ids, q_cams, g_cams):
        return torch.zeros(1, 1, dtype=torch.bool)

    with pytest.raises(ValueError, match="must return shape"):
        rank_metrics(torch.rand(2, 3), [1, 2], [1, 2, 3], exclude=broken)
