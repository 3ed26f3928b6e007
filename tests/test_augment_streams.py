"""CAJStreams: CAJ's three training streams from one cross-modality batch."""

from __future__ import annotations

import pytest
import torch

from vireid.augment import AugmentedViews, BatchAugment, CAJStreams


def _batch(n=8, h=24, w=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, h, w), dtype=torch.uint8, generator=g)


@pytest.mark.parametrize("variant", ["iccv21", "pami23"])
def test_streams_are_the_weak_batch_then_a_strong_view_of_each_visible_image(variant):
    x = _batch(n=8)
    modality = torch.tensor([0, 1, 1, 0, 0, 1, 0, 1])
    out = CAJStreams((24, 12), variant=variant, generator=torch.Generator().manual_seed(3))(
        x, modality
    )
    assert isinstance(out, AugmentedViews)
    visible = torch.tensor([0, 3, 4, 6])
    assert out.images.shape == (12, 3, 24, 12) and out.images.dtype == torch.float32
    assert out.index.tolist() == [*range(8), *visible.tolist()]
    assert out.modalities.tolist() == [*modality.tolist(), 0, 0, 0, 0]
    # Oracle: the two BatchAugment views drawn from one generator in the same order.
    g = torch.Generator().manual_seed(3)
    weak = BatchAugment("caj", (24, 12), view="weak", variant=variant, generator=g)(x, modality)
    strong = BatchAugment("caj", (24, 12), view="strong", variant=variant, generator=g)(
        x[visible], modality[visible]
    )
    assert torch.equal(out.images[:8], weak)
    assert torch.equal(out.images[8:], strong)
    # The strong view copies one normalised channel into all three (after erasing, so an
    # erased box is copied too): its channels are equal everywhere; the weak view's are not.
    strong_views = out.images[8:]
    assert torch.equal(strong_views[:, 0], strong_views[:, 1])
    assert torch.equal(strong_views[:, 1], strong_views[:, 2])
    assert not torch.equal(out.images[visible, 0], out.images[visible, 1])


def test_streams_are_reproducible_and_keep_the_batch_order_for_one_modality():
    x = _batch(n=6, seed=1)
    ir = torch.ones(6, dtype=torch.long)
    a = CAJStreams((24, 12), generator=torch.Generator().manual_seed(0))(x, ir)
    b = CAJStreams((24, 12), generator=torch.Generator().manual_seed(0))(x, ir)
    assert torch.equal(a.images, b.images) and a.images.shape[0] == 6  # no visible image
    assert a.index.tolist() == list(range(6))
    vis = CAJStreams((24, 12))(x, torch.zeros(6, dtype=torch.long))
    assert vis.images.shape[0] == 12 and vis.index.tolist() == [*range(6), *range(6)]


def test_streams_check_their_input():
    streams = CAJStreams((24, 12))
    with pytest.raises(TypeError, match="uint8"):
        streams(torch.zeros(2, 3, 24, 12), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"batch must be \(B, 3, 24, 12\)"):
        streams(_batch(2, 32, 16), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="modality"):
        streams(_batch(2), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="variant"):
        CAJStreams((24, 12), variant="pami")  # type: ignore[arg-type]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_streams_on_cuda_match_cpu_with_a_cpu_generator():
    x, modality = _batch(n=8), torch.tensor([0, 1] * 4)
    cpu = CAJStreams((24, 12), generator=torch.Generator().manual_seed(4))(x, modality)
    gpu = CAJStreams((24, 12), generator=torch.Generator().manual_seed(4))(
        x.cuda(), modality.cuda()
    )
    assert gpu.images.is_cuda and gpu.index.is_cuda
    torch.testing.assert_close(gpu.images.cpu(), cpu.images, atol=1e-4, rtol=1e-4)
    assert torch.equal(gpu.index.cpu(), cpu.index)
