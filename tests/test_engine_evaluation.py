"""Protocol runners: features once, per-trial sets from the dataset, metrics per trial."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from tests.test_data_regdb_llcm import make_llcm, make_regdb
from tests.test_data_sysu import _small_tree
from vireid.data import LLCM, SYSUMM01, RegDB
from vireid.engine import evaluate_llcm, evaluate_regdb, evaluate_sysu
from vireid.metrics import llcm_metrics, pairwise_distance, rank_metrics, regdb_metrics
from vireid.metrics import sysu_metrics as sysu_rule


def feature_of(sample, dim=8):
    """A deterministic feature per image: identity centre plus path-seeded noise."""
    seed = int(hashlib.sha256(str(sample.path).encode()).hexdigest()[:8], 16)
    noise = np.random.default_rng(seed).standard_normal(dim)
    centre = np.random.default_rng(sample.pid).standard_normal(dim)
    return torch.tensor(centre + 0.9 * noise)


class CountingFeatures:
    def __init__(self):
        self.seen = []

    def __call__(self, samples):
        self.seen += [s.path for s in samples]
        return torch.stack([feature_of(s) for s in samples])


def _direct(query, gallery, rule, **kw):
    q = torch.stack([feature_of(s) for s in query])
    g = torch.stack([feature_of(s) for s in gallery])
    dist = pairwise_distance(q, g, "cosine", dtype=torch.float64)
    args = [dist, [s.pid for s in query], [s.pid for s in gallery]]
    if rule in (sysu_rule, llcm_metrics):
        args += [[s.cam for s in query], [s.cam for s in gallery]]
    return rule(*args, **kw)


def test_evaluate_sysu_extracts_once_and_matches_direct_scoring(tmp_path):
    _small_tree(tmp_path)
    ds = SYSUMM01(tmp_path, official_split=False)
    source = CountingFeatures()
    result = evaluate_sysu(source, ds, "all", 1, "agw", trials=range(4), batch_size=5)
    assert len(source.seen) == len(set(source.seen))  # every image at most once
    for t, r in zip(result.trials, result.per_trial, strict=True):
        direct = _direct(ds.query(), ds.gallery("all", 1, t, "agw"), sysu_rule)
        assert torch.equal(r.cmc, direct.cmc) and r.mAP == direct.mAP and r.mINP == direct.mINP
    assert result.summary.mAP == pytest.approx(np.mean([r.mAP for r in result.per_trial]))
    settings = result.settings()
    assert settings == {
        "dataset": "SYSU-MM01", "mode": "all", "shots": 1, "sampler": "agw",
        "direction": "ir2vis", "trials": [0, 1, 2, 3], "cmc_variant": "dedup",
        "exclude": "sysu", "distance": "cosine", "reranked": False,
    }  # fmt: skip
    json.dumps(result.to_dict())
    text = str(result)
    assert "sampler=agw" in text and text.count("\n") == 1 + 4 + 1 and "±" in text


def test_feature_mapping_source_and_its_errors(tmp_path):
    _small_tree(tmp_path)
    ds = SYSUMM01(tmp_path, official_split=False)
    pool = ds.query() + [s for t in range(2) for s in ds.gallery("indoor", 1, t, "agw")]
    mapping = {str(s.path): feature_of(s) for s in pool}
    by_map = evaluate_sysu(mapping, ds, "indoor", 1, "agw", trials=[0, 1])
    by_fn = evaluate_sysu(CountingFeatures(), ds, "indoor", 1, "agw", trials=[0, 1])
    assert by_map.summary.mAP == by_fn.summary.mAP
    del mapping[str(pool[0].path)]
    with pytest.raises(KeyError, match="lacks 1 of the"):
        evaluate_sysu(mapping, ds, "indoor", 1, "agw", trials=[0])
    with pytest.raises(ValueError, match="must return shape"):
        evaluate_sysu(lambda batch: torch.zeros(1, 3), ds, "all", 1, "agw", trials=[0])
    with pytest.raises(ValueError, match="at least one trial"):
        evaluate_sysu(mapping, ds, "all", 1, "agw", trials=[])
    with pytest.raises(TypeError, match="callable"):
        evaluate_sysu(42, ds, "all", 1, "agw", trials=[0])


def test_evaluate_regdb_one_split_and_several(tmp_path):
    for split in (1, 2):
        make_regdb(tmp_path / str(split), split=split)
    splits = [RegDB(tmp_path / str(s), split=s) for s in (1, 2)]
    one = evaluate_regdb(CountingFeatures(), splits[0], "t2v")
    direct = _direct(splits[0].test_thermal, splits[0].test_visible, regdb_metrics)
    assert one.per_trial[0].mAP == direct.mAP and one.trials == (1,)
    both = evaluate_regdb([CountingFeatures(), CountingFeatures()], splits, "v2t", "dedup")
    assert both.trials == (1, 2) and both.summary.cmc_variant == "dedup"
    with pytest.raises(ValueError, match="one feature source per split"):
        evaluate_regdb([CountingFeatures()], splits)
    with pytest.raises(ValueError, match="direction"):
        evaluate_regdb(CountingFeatures(), splits[0], "v2v")


@pytest.mark.parametrize(
    ("direction", "protocol"), [("ir2vis", "deen"), ("vis2ir", "deen"), ("vis2ir", "symmetric")]
)
def test_evaluate_llcm_trials(tmp_path, direction, protocol):
    make_llcm(tmp_path)
    ds = LLCM(tmp_path)
    result = evaluate_llcm(CountingFeatures(), ds, direction, protocol, trials=range(3))
    for t, r in zip(result.trials, result.per_trial, strict=True):
        direct = _direct(ds.query(direction, protocol, t), ds.gallery(direction, protocol, t),
                         llcm_metrics)  # fmt: skip
        assert r.mAP == direct.mAP and torch.equal(r.cmc, direct.cmc)
    assert result.sampler == protocol and result.summary.exclude == "same_id_same_camera"


def test_evaluate_llcm_full_protocol_has_no_exclusion(tmp_path):
    make_llcm(tmp_path)
    ds = LLCM(tmp_path)
    result = evaluate_llcm(CountingFeatures(), ds, "ir2vis", "full")
    assert result.trials == (0,) and result.summary.exclude == "none"
    direct = _direct(ds.query("ir2vis", "full"), ds.gallery("ir2vis", "full"), rank_metrics,
                     dedup_cmc=True)  # fmt: skip
    assert result.per_trial[0].mAP == direct.mAP
