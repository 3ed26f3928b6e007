"""The engine on a GPU: hundreds of bf16 + channels-last steps per method (skipped without CUDA).

Run on a machine with a GPU; the throughput of each run is printed (``pytest -s``) so it can be
quoted.
"""

from __future__ import annotations

import pytest
import torch

from vireid.data import SYSUMM01, make_sysu_like
from vireid.engine import fit, load_checkpoint

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def sysu(tmp_path_factory):
    root = make_sysu_like(tmp_path_factory.mktemp("cuda") / "tree", num_ids=64, seed=5,
                          size=(128, 64))  # fmt: skip
    return SYSUMM01(root, official_split=False)


@pytest.mark.cuda
@pytest.mark.parametrize("method", ["mcja", "agw", "caj", "idkl", "emif"])
def test_hundreds_of_bf16_channels_last_steps(method, sysu, tmp_path):
    from vireid.models import get_recipe

    split = sysu.validation_split()
    recipe = get_recipe(method, "demo", epochs=16, eval_interval=4, eval_start=4)
    torch.manual_seed(0)
    model = recipe.build_model(split.num_classes)
    result = fit(model, recipe.build_criterion(), recipe, split.train, validation=split,
                 output_dir=tmp_path, device="cuda", amp="bf16", progress=False)  # fmt: skip
    state = load_checkpoint(result.last_checkpoint)
    assert state["global_step"] >= 200
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert next(model.parameters()).is_cuda
    assert result.best_score is not None and result.best_score > 0.15
    print(f"\n{method}: {result.images_per_second:.0f} img/s on {torch.cuda.get_device_name()}")


@pytest.mark.cuda
def test_fp16_with_gradient_scaler(sysu, tmp_path):
    from vireid.models import get_recipe

    split = sysu.validation_split()
    recipe = get_recipe("mcja", "demo", epochs=3, warmup_epochs=1, eval_interval=3)
    torch.manual_seed(0)
    model = recipe.build_model(split.num_classes)
    fit(model, recipe.build_criterion(), recipe, split.train, validation=split,
        output_dir=tmp_path, device="cuda", amp="fp16", progress=False)  # fmt: skip
    state = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert state["scaler"] is not None and state["scaler"]["scale"] > 0


@pytest.mark.cuda
def test_resume_on_cuda_is_bit_exact(sysu, tmp_path):
    from vireid.models import get_recipe

    split = sysu.validation_split()
    recipe = get_recipe("agw", "demo", epochs=2, warmup_epochs=1, eval_interval=1)

    def run(out, **kwargs):
        model = recipe.build_model(split.num_classes)
        fit(model, recipe.build_criterion(), recipe, split.train, validation=split,
            output_dir=out, device="cuda", amp="bf16", progress=False, deterministic=True,
            **kwargs)  # fmt: skip
        return model

    straight = run(tmp_path / "a")
    run(tmp_path / "b", stop_after=1)
    resumed = run(tmp_path / "b", resume=tmp_path / "b" / "checkpoints" / "last.pt")
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(),
                            strict=True):  # fmt: skip
        assert torch.equal(a, b), name
