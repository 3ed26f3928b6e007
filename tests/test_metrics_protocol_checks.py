"""The protocol evaluators refuse camera ids their rules would apply to the wrong items."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vireid.metrics import exclusion_mask, llcm_metrics, rank_metrics, sysu_metrics

DIST = torch.tensor([[0.1, 0.5, 0.3, 0.9], [0.4, 0.2, 0.8, 0.6]])
Q_IDS, G_IDS = [1, 2], [1, 2, 1, 2]


def test_sysu_accepts_the_dataset_cameras_and_equals_the_rule():
    r = sysu_metrics(DIST, Q_IDS, G_IDS, [3, 6], [1, 2, 4, 5])
    ref = rank_metrics(DIST, Q_IDS, G_IDS, [3, 6], [1, 2, 4, 5], exclude="sysu", dedup_cmc=True)
    assert r.to_dict() == ref.to_dict()
    # numpy and tensor camera vectors alike
    r2 = sysu_metrics(DIST.numpy(), np.array(Q_IDS), np.array(G_IDS), np.array([3, 6]),
                      torch.tensor([1, 2, 4, 5]))  # fmt: skip
    assert r2.to_dict() == r.to_dict()


@pytest.mark.parametrize(
    ("q_cams", "g_cams", "bad"),
    [
        ([2, 5], [0, 1, 3, 4], "query_cams"),  # 0-based ids
        ([1, 2], [3, 6, 3, 6], "query_cams"),  # roles swapped: visible queries
        ([3, 6], [3, 1, 2, 4], "gallery_cams"),  # an infrared item in the gallery
        ([3, 7], [1, 2, 4, 5], "query_cams"),
    ],
)
def test_sysu_rejects_cameras_outside_the_protocol(q_cams, g_cams, bad):
    with pytest.raises(ValueError, match=bad) as info:
        sysu_metrics(DIST, Q_IDS, G_IDS, q_cams, g_cams)
    assert "rank_metrics" in str(info.value) and "1-6" in str(info.value)


def test_sysu_camera_lengths_are_checked_first():
    with pytest.raises(ValueError, match="query_cams has 3 entries"):
        sysu_metrics(DIST, Q_IDS, G_IDS, [3, 6, 3], [1, 2, 4, 5])
    with pytest.raises(TypeError, match="gallery_cams must hold integers"):
        sysu_metrics(DIST, Q_IDS, G_IDS, [3, 6], [1.0, 2.0, 4.0, 5.0])


def test_llcm_rejects_zero_based_cameras():
    llcm_metrics(DIST, Q_IDS, G_IDS, [1, 9], [1, 2, 3, 9])
    with pytest.raises(ValueError, match=r"gallery_cams must hold camera numbers.*got \[0\]"):
        llcm_metrics(DIST, Q_IDS, G_IDS, [1, 8], [0, 1, 2, 8])


def test_exclusion_mask_checks_lengths_types_and_devices():
    q, g = torch.tensor([7]), torch.tensor([7, 5])
    assert exclusion_mask("sysu", q, g, torch.tensor([3]), torch.tensor([2, 1])).tolist() == [
        [True, False]
    ]
    with pytest.raises(ValueError, match="gallery_ids has 2 entries but gallery_cams has 3"):
        exclusion_mask("sysu", q, g, torch.tensor([3]), torch.tensor([2, 1, 1]))
    with pytest.raises(ValueError, match="query_cams must be a 1-D integer tensor"):
        exclusion_mask("sysu", q, g, torch.tensor([[3]]), torch.tensor([2, 1]))
    with pytest.raises(ValueError, match="query_ids must be a 1-D integer tensor"):
        exclusion_mask("same_camera", q.float(), g, torch.tensor([3]), torch.tensor([2, 1]))
    with pytest.raises(TypeError, match=r"gallery_cams must be a 1-D integer torch\.Tensor"):
        exclusion_mask("sysu", q, g, torch.tensor([3]), [2, 1])
