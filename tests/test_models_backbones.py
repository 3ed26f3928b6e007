"""ResNet backbones with named stages, slicing and insertion points (``vireid.models.backbones``).

Oracles: torchvision's own ResNets (key names, weights and forward features), shape arithmetic
for the strides, manual block-by-block loops for insertions, MCJA's MDA count/placement from the
spec, and pinned key hashes. No test touches the network: downloads are monkeypatched.
"""

from __future__ import annotations

import hashlib
import urllib.error

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models import ResNet18_Weights, ResNet50_Weights

from vireid.models.backbones import STAGES, ResNet, resnet18, resnet34, resnet50
from vireid.nn import ModalityDistributionAdapter

RESNET50_KEYS_SHA256 = "399a1207491d79e8a94c9dc2bd373793b2be72b2d456d3f77e2d40675113dddd"
RESNET18_KEYS_SHA256 = "ab46e8330b5d54f41e39a2d5f0b08d2be79056093db107cf86daf5dd71c1115e"


def _keys_hash(module: nn.Module) -> str:
    return hashlib.sha256("\n".join(sorted(module.state_dict())).encode()).hexdigest()


def _tv_features(tv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """torchvision's forward up to layer4 (no avg-pool / fc)."""
    x = tv.maxpool(tv.relu(tv.bn1(tv.conv1(x))))
    return tv.layer4(tv.layer3(tv.layer2(tv.layer1(x))))


class Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = nn.Parameter(torch.tensor(factor))

    def forward(self, x):
        return x * self.factor


# --- keys and structure ------------------------------------------------------------------------


def test_resnet50_state_dict_keys_pinned_and_equal_to_torchvision():
    model = resnet50()
    keys = set(model.state_dict())
    tv_keys = {k for k in torchvision.models.resnet50().state_dict() if not k.startswith("fc.")}
    assert keys == tv_keys
    assert len(keys) == 318 and _keys_hash(model) == RESNET50_KEYS_SHA256
    for key in ("conv1.weight", "bn1.running_var", "layer1.0.downsample.0.weight",
                "layer3.5.bn3.num_batches_tracked", "layer4.2.conv3.weight"):  # fmt: skip
        assert key in keys
    # last stride changes strides only, never keys
    assert _keys_hash(resnet50(last_stride=1)) == RESNET50_KEYS_SHA256
    assert sum(p.numel() for p in model.parameters()) == 23_508_032  # 25.56 M minus fc


def test_resnet18_keys_pinned():
    assert _keys_hash(resnet18()) == RESNET18_KEYS_SHA256


@pytest.mark.parametrize(
    ("build", "channels"),
    [(resnet18, (64, 64, 128, 256, 512)), (resnet50, (64, 256, 512, 1024, 2048))],
)
def test_stage_channels_and_depths(build, channels):
    model = build()
    assert model.stage_names == STAGES
    assert [model.stage_channels[s] for s in STAGES] == list(channels)
    assert model.in_channels == 3 and model.out_channels == channels[-1]
    assert isinstance(model.stage("stem"), nn.Sequential) and len(model.stage("stem")) == 4
    assert model.stage("layer3") is model.layer3


@pytest.mark.parametrize(("last_stride", "batch"), [(2, 1), (2, 2), (1, 2)])
def test_resnet50_output_shape_small_input(last_stride, batch):
    model = resnet50(last_stride=last_stride).eval()
    with torch.no_grad():
        out = model(torch.randn(batch, 3, 64, 32))
    assert out.shape == (batch, 2048, *((4, 2) if last_stride == 1 else (2, 1)))
    assert out.dtype == torch.float32
    first = model.layer4[0]
    assert first.conv2.stride == first.downsample[0].stride == (last_stride, last_stride)


@pytest.mark.parametrize("build", [resnet18, resnet34])
def test_basic_block_last_stride(build):
    model = build(last_stride=1).eval()
    first = model.layer4[0]
    assert first.conv1.stride == first.downsample[0].stride == (1, 1)
    with torch.no_grad():
        stages = model.forward_stages(torch.randn(2, 3, 32, 16))
    assert list(stages) == list(STAGES)
    assert stages["stem"].shape == (2, 64, 8, 4)
    assert stages["layer3"].shape == (2, 256, 2, 1)
    assert stages["layer4"].shape == (2, 512, 2, 1)  # last stride 1 keeps layer3's map


# --- weights -----------------------------------------------------------------------------------


def test_local_path_weights_match_torchvision_forward(tmp_path):
    torch.manual_seed(0)
    tv = torchvision.models.resnet18().eval()
    path = tmp_path / "r18.pth"
    torch.save(tv.state_dict(), path)  # includes fc.*, which the backbone ignores
    model = resnet18(pretrained=str(path)).eval()
    for name, value in model.state_dict().items():
        assert torch.equal(value, tv.state_dict()[name]), name
    x = torch.randn(2, 3, 32, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(x), _tv_features(tv, x))
    # a wrapped {"state_dict": ...} checkpoint and a PathLike work too
    torch.save({"state_dict": model.state_dict()}, tmp_path / "wrapped.pth")
    again = resnet18(pretrained=tmp_path / "wrapped.pth")
    assert torch.equal(again.layer4[1].conv2.weight, tv.layer4[1].conv2.weight)


def test_missing_download_raises_clear_error(monkeypatch):
    calls = []

    def offline(url, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    with pytest.raises(RuntimeError, match="IMAGENET1K_V1") as info:
        resnet50(pretrained=ResNet50_Weights.IMAGENET1K_V1)
    message = str(info.value)
    assert "URLError" in message and "pretrained='/path/to/resnet50-" in message
    assert calls == [ResNet50_Weights.IMAGENET1K_V1.url]
    with pytest.raises(RuntimeError, match="IMAGENET1K_V1"):
        resnet50(pretrained=True)  # True means the original V1 release
    assert calls[-1] == ResNet50_Weights.IMAGENET1K_V1.url


def test_weights_enum_loads_through_torchvision(monkeypatch):
    source = torchvision.models.resnet18()

    def fake_download(url, *args, **kwargs):
        return source.state_dict()

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", fake_download)
    model = resnet18(pretrained=ResNet18_Weights.IMAGENET1K_V1)
    assert torch.equal(model.conv1.weight, source.conv1.weight)


@pytest.mark.parametrize(
    ("pretrained", "error", "match"),
    [
        ("/nonexistent/weights.pth", FileNotFoundError, "does not exist"),
        (ResNet18_Weights.IMAGENET1K_V1, ValueError, "ResNet50_Weights member"),
        (3, TypeError, "pretrained must be"),
    ],
)
def test_pretrained_argument_errors(pretrained, error, match):
    with pytest.raises(error, match=match):
        resnet50(pretrained=pretrained)


def test_weights_of_another_arch_are_rejected(tmp_path):
    path = tmp_path / "r18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    with pytest.raises(RuntimeError, match="do not fit a resnet34"):
        resnet34(pretrained=path)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="could not read"):
        resnet18(pretrained=tmp_path / "junk.pth")


def test_default_is_random_init_without_download(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("no download may happen by default")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", forbidden)
    resnet18()
    resnet18(pretrained=None)


# --- slicing -----------------------------------------------------------------------------------


def test_slices_compose_to_the_full_network_and_share_weights():
    model = resnet18().eval()
    front, back = model.slice("stem", "layer2"), model.slice("layer3", "layer4")
    assert front.in_channels == 3 and front.out_channels == 128 and back.in_channels == 128
    x = torch.randn(2, 3, 32, 16)
    with torch.no_grad():
        torch.testing.assert_close(back(front(x)), model(x))
    assert back.layer3 is model.layer3 and not back.training
    assert set(front.state_dict()) | set(back.state_dict()) == set(model.state_dict())
    assert all(k.startswith(("conv1", "bn1", "layer1", "layer2")) for k in front.state_dict())


def test_idkl_dual_stream_copies_are_independent():
    model = resnet18().eval()
    shared = model.slice("layer3", "layer4")
    specific = model.slice("layer3", "layer4", copy=True)
    assert specific.layer3 is not model.layer3
    for (name, a), b in zip(shared.state_dict().items(), specific.state_dict().values(),
                            strict=True):  # fmt: skip
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr(), name
    with torch.no_grad():
        specific.layer4[0].conv1.weight.add_(1.0)
    assert not torch.equal(specific.layer4[0].conv1.weight, model.layer4[0].conv1.weight)
    # the copy starts from the same weights, so before training both branches agree
    y = torch.randn(2, 128, 4, 2)
    fresh = model.slice("layer3", "layer4", copy=True)
    with torch.no_grad():
        torch.testing.assert_close(fresh(y), shared(y))


def test_agw_modality_specific_stems():
    model = resnet18().eval()
    visible, infrared = (
        model.slice("stem", "stem", copy=True),
        model.slice("stem", "stem", copy=True),
    )
    trunk = model.slice("layer1", "layer4")
    assert sorted(visible.state_dict()) == sorted(k for k in model.state_dict() if "layer" not in k)
    x = torch.randn(2, 3, 32, 16)
    with torch.no_grad():
        torch.testing.assert_close(trunk(infrared(x)), model(x))
    assert visible.conv1 is not infrared.conv1 and trunk.layer1 is model.layer1


def test_slice_errors_and_input_checks():
    model = resnet18()
    with pytest.raises(ValueError, match="comes before"):
        model.slice("layer3", "layer1")
    with pytest.raises(ValueError, match="stage must be one of"):
        model.slice("layer5")
    with pytest.raises(ValueError, match="stage must be one of"):
        model.slice("layer3", "layer4").slice("stem")
    with pytest.raises(ValueError, match=r"\(B, 128, H, W\).*'layer3'"):
        model.slice("layer3")(torch.randn(1, 3, 32, 16))
    with pytest.raises(TypeError, match="floating"):
        model(torch.zeros(1, 3, 32, 16, dtype=torch.uint8))
    with pytest.raises(ValueError, match="arch must be one of"):
        ResNet("resnet152")
    with pytest.raises(ValueError, match="last_stride"):
        resnet18(last_stride=3)


# --- insertion ---------------------------------------------------------------------------------


def test_insert_after_matches_manual_block_loop():
    torch.manual_seed(1)
    model = resnet18().eval()
    plain = model.slice()  # shares the blocks, not the insertions
    model.insert_after("layer2", 0, Scale(2.0))
    model.insert_after("layer3", -1, Scale(3.0))
    assert [(s, b) for s, b, _ in model.named_insertions()] == [("layer2", 0), ("layer3", 1)]
    x = torch.randn(2, 3, 32, 16)
    with torch.no_grad():
        h = plain.slice("stem", "layer1")(x)
        h = model.layer2[1](model.layer2[0](h) * 2.0)
        h = model.layer3[1](model.layer3[0](h)) * 3.0
        expected = model.layer4(h)
        torch.testing.assert_close(model(x), expected)
        assert not torch.allclose(plain(x), expected)
    assert "inserted.layer2.0.factor" in model.state_dict()
    assert "inserted.layer3.1.factor" in model.state_dict()


def test_mcja_mda_layout_identity_at_init_and_keys():
    model = resnet50()
    plain_keys = set(model.state_dict())
    mda = lambda c: ModalityDistributionAdapter(c, num_masks=2)  # noqa: E731
    modules = model.insert_after_last("layer2", 2, mda) + model.insert_after_last("layer3", 3, mda)
    positions = [(s, b) for s, b, _ in model.named_insertions()]
    assert positions == [("layer2", 2), ("layer2", 3), ("layer3", 3), ("layer3", 4), ("layer3", 5)]
    assert [m.channels for m in modules] == [512, 512, 1024, 1024, 1024]
    extra = sum(p.numel() for m in modules for p in m.parameters())
    assert extra == 32_778  # mcja.md §2.2, SYSU (M = 2)
    new_keys = set(model.state_dict()) - plain_keys
    assert plain_keys <= set(model.state_dict())  # the backbone's own keys are untouched
    assert {k.rsplit(".", 2)[0] for k in new_keys} == {
        "inserted.layer2.2", "inserted.layer2.3",
        "inserted.layer3.3", "inserted.layer3.4", "inserted.layer3.5",
    }  # fmt: skip
    assert "inserted.layer3.4.mask_conv.weight" in new_keys
    x = torch.randn(2, 3, 32, 16)
    plain = model.slice()
    plain.inserted = nn.ModuleDict()  # same blocks, no adapters
    with torch.no_grad():
        assert torch.equal(model(x), plain(x))  # every MDA is the identity at init
    # slices keep (and copies copy) the adapters of their stages
    back = model.slice("layer3", "layer4", copy=True)
    assert [(s, b) for s, b, _ in back.named_insertions()] == [
        ("layer3", 3), ("layer3", 4), ("layer3", 5)
    ]  # fmt: skip
    assert back.inserted["layer3"]["3"] is not model.inserted["layer3"]["3"]


def test_insertion_errors():
    model = resnet18()
    model.insert_after("layer1", 1, Scale(1.0))
    with pytest.raises(ValueError, match="already has"):
        model.insert_after("layer1", -1, Scale(1.0))
    with pytest.raises(ValueError, match=r"block must lie in \[-2, 2\)"):
        model.insert_after("layer2", 2, Scale(1.0))
    with pytest.raises(ValueError, match="got 'stem'"):
        model.insert_after("stem", 0, Scale(1.0))
    with pytest.raises(TypeError, match=r"nn\.Module"):
        model.insert_after("layer2", 0, lambda x: x)
    with pytest.raises(ValueError, match=r"count must lie in \[1, 2\]"):
        model.insert_after_last("layer3", 3, lambda c: Scale(1.0))
    shared = Scale(1.0)
    with pytest.raises(ValueError, match="new module"):
        model.insert_after_last("layer4", 2, lambda c: shared)


# --- memory format, dtype, devices -------------------------------------------------------------


def test_channels_last_and_float64():
    torch.manual_seed(2)
    model = resnet18().eval()
    x = torch.randn(2, 3, 32, 16)
    with torch.no_grad():
        ref = model(x)
        cl_model = resnet18().eval()
        cl_model.load_state_dict(model.state_dict())
        cl_model = cl_model.to(memory_format=torch.channels_last)
        out = cl_model(x.to(memory_format=torch.channels_last))
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
        assert model.double()(x.double()).dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_bfloat16_channels_last_training_step():
    model = resnet18(last_stride=1).cuda().to(memory_format=torch.channels_last)
    model.insert_after_last("layer3", 1, lambda c: ModalityDistributionAdapter(c).cuda())
    x = torch.randn(4, 3, 128, 64, device="cuda").to(memory_format=torch.channels_last)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = model(x)
    assert out.shape == (4, 512, 8, 4) and out.device.type == "cuda"
    out.float().mean().backward()
    assert model.conv1.weight.grad is not None
