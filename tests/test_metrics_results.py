"""RankMetrics, TrialSummary and mean_over_trials."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vireid.metrics import RankMetrics, mean_over_trials, rank_metrics, sysu_metrics


def _trial(seed):
    rng = np.random.default_rng(seed)
    dist = rng.standard_normal((40, 30))
    q_ids, g_ids = rng.integers(0, 6, 40), rng.integers(0, 6, 30)
    q_cams, g_cams = rng.choice([3, 6], 40), rng.choice([1, 2, 4, 5], 30)
    return sysu_metrics(dist, q_ids, g_ids, q_cams, g_cams)


def test_mean_over_trials_is_the_mean_of_per_trial_metrics():
    trials = [_trial(s) for s in range(5)]
    summary = mean_over_trials(trials)
    np.testing.assert_allclose(summary.cmc.numpy(), np.mean([t.cmc.numpy() for t in trials], 0))
    assert summary.mAP == pytest.approx(np.mean([t.mAP for t in trials]), abs=1e-15)
    assert summary.mINP == pytest.approx(np.mean([t.mINP for t in trials]), abs=1e-15)
    assert summary.mAP_std == pytest.approx(np.std([t.mAP for t in trials]), abs=1e-15)
    np.testing.assert_allclose(
        summary.cmc_std.numpy(), np.std([t.cmc.numpy() for t in trials], 0), atol=1e-15
    )
    sample = mean_over_trials(trials, ddof=1)
    assert sample.mINP_std == pytest.approx(np.std([t.mINP for t in trials], ddof=1), abs=1e-15)
    assert summary.rank(1) == pytest.approx(np.mean([t.rank(1) for t in trials]))
    assert summary.rank_std(5) == pytest.approx(np.std([t.rank(5) for t in trials]))
    assert summary.num_trials == 5 and summary.exclude == "sysu" and summary.cmc_variant == "dedup"


def test_single_trial_summary_has_zero_std_and_nan_sample_std():
    t = _trial(0)
    assert mean_over_trials([t]).mAP_std == 0.0
    assert np.isnan(mean_over_trials([t], ddof=1).mAP_std)


def test_mean_over_trials_rejects_mixed_settings_and_empty_input():
    a = _trial(0)
    b = rank_metrics(torch.rand(3, 30), [0, 1, 2], np.arange(30) % 5)
    with pytest.raises(ValueError, match="share exclusion rule"):
        mean_over_trials([a, b])
    with pytest.raises(ValueError, match="at least one"):
        mean_over_trials([])
    with pytest.raises(TypeError, match="must be a RankMetrics"):
        mean_over_trials([a, {"mAP": 1.0}])


def test_rank_accessor_and_formatting():
    r = RankMetrics(
        cmc=torch.tensor([0.5, 0.75, 1.0], dtype=torch.float64),
        mAP=0.6,
        mINP=0.4,
        num_valid=4,
        num_queries=5,
        exclude="none",
        cmc_variant="standard",
        max_rank=20,
    )
    assert r.rank(1) == 0.5 and r.rank(3) == 1.0
    with pytest.raises(ValueError, match=r"1\.\.3"):
        r.rank(4)
    with pytest.raises(TypeError):
        r.rank(1.0)
    text = str(r)
    assert "R1  50.00" in text and "mAP  60.00" in text and "mINP  40.00" in text
    assert "4/5 valid" in text
    s = mean_over_trials([r, r])
    assert "R1  50.00 ± 0.00" in str(s)
    json.dumps(s.to_dict())


def test_str_lists_the_standard_ranks():
    text = str(_trial(1))
    for k in ("R1 ", "R5 ", "R10 ", "R20 "):
        assert k in text
