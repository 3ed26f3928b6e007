"""Recipes: the preset values against the released codes' settings, checks, parsing, printing."""

from __future__ import annotations

import dataclasses
import json

import pytest

from vireid.augment import BatchAugment, CAJStreams
from vireid.losses import AdaptiveTripletLoss
from vireid.models import (
    METHODS,
    AGWRecipe,
    CAJRecipe,
    IDKLRecipe,
    MCJARecipe,
    Recipe,
    get_recipe,
)


def _criterion_inputs():
    import torch

    from vireid.models import ReIDOutput

    torch.manual_seed(0)
    out = ReIDOutput(torch.randn(8, 6), torch.randn(8, 6), torch.randn(8, 3))
    return out, torch.tensor([0, 0, 1, 1, 2, 2, 0, 1]), torch.tensor([0, 1, 0, 1, 0, 1, 1, 0])


def test_mcja_reference_sysu_is_the_released_config():
    r = MCJARecipe.preset("reference", dataset="sysu")
    assert (r.image_size, r.augment, r.sampler, r.ids_per_batch, r.num_instances) == (
        (384, 192), "mcja", "pk_any", 8, 16
    )  # fmt: skip
    assert r.batch_size == 128
    assert (r.arch, r.width, r.pretrained, r.last_stride, r.mda_masks) == (
        "resnet50", 64, "imagenet", 2, 2
    )  # fmt: skip
    assert (r.optimizer, r.lr, r.head_lr, r.weight_decay, r.betas) == (
        "adam", 3.5e-4, None, 5e-4, (0.9, 0.999)
    )  # fmt: skip
    assert (r.epochs, r.warmup_epochs, r.schedule, r.milestones, r.gamma) == (
        140, 0, "multistep", (80, 120), 0.1
    )  # fmt: skip
    assert (r.id_weight, r.cmr_weight, r.cmr_epsilon, r.label_smoothing) == (1.0, 1.0, 0.5, 0.0)
    assert r.triplet_weight == 0.0  # no triplet in MCJA; only the demo adds one
    assert MCJARecipe.preset("demo").triplet_weight == 1.0
    assert list(MCJARecipe.preset("demo").build_criterion()(*_criterion_inputs())) == [
        "id", "cmr", "triplet", "total"
    ]  # fmt: skip
    assert (r.eval_interval, r.seed) == (1, 8)


def test_mcja_reference_regdb_differs_where_the_configs_differ():
    sysu, regdb = (MCJARecipe.preset("reference", d) for d in ("sysu", "regdb"))
    diff = {
        f.name for f in dataclasses.fields(sysu) if getattr(sysu, f.name) != getattr(regdb, f.name)
    }
    assert diff == {
        "dataset",
        "ids_per_batch",
        "num_instances",
        "mda_masks",
        "epochs",
        "milestones",
    }
    assert (regdb.ids_per_batch, regdb.num_instances, regdb.mda_masks, regdb.epochs) == (
        4,
        32,
        12,
        300,
    )
    assert regdb.milestones == (300,)  # the LR stays constant for all 300 epochs


def test_agw_reference_is_the_released_config():
    r = AGWRecipe.preset("reference", "sysu")
    assert (r.image_size, r.augment, r.sampler, r.ids_per_batch, r.num_instances) == (
        (288, 144), "agw", "agw_pk", 8, 4
    )  # fmt: skip
    assert r.batch_size == 64
    assert (r.optimizer, r.lr, r.head_lr, r.momentum, r.nesterov, r.weight_decay) == (
        "sgd", 0.01, 0.1, 0.9, True, 5e-4
    )  # fmt: skip
    assert (r.epochs, r.warmup_epochs, r.warmup_granularity, r.milestones) == (
        81, 10, "epoch", (20, 50)
    )  # fmt: skip
    assert (r.non_local, r.inter_channels, r.gem, r.metric_loss, r.last_stride) == (
        True, "reference", True, "wrt", 1
    )  # fmt: skip
    assert (r.eval_interval, r.seed) == (2, 0)
    assert AGWRecipe.preset("reference", "regdb").replace(dataset="sysu") == r


def test_caj_reference_is_agw_on_three_streams_with_adp():
    agw, caj = AGWRecipe.preset("reference"), CAJRecipe.preset("reference")
    differ = {
        f.name for f in dataclasses.fields(agw) if getattr(agw, f.name) != getattr(caj, f.name)
    }
    # The released CAJ folder: AGW's optimiser, schedule and network; 100 epochs, ADP, streams.
    assert differ == {"augment", "epochs", "metric_loss"}
    assert (caj.augment, caj.epochs, caj.metric_loss, caj.caj_variant) == (
        "caj",
        100,
        "adp",
        "iccv21",
    )
    assert (caj.adp_alpha, caj.adp_gamma, caj.adp_square, caj.cross_modality_mining) == (
        1.0, 1.0, True, False
    )  # fmt: skip
    plus = CAJRecipe.preset("pami23", "regdb")
    assert plus.caj_variant == "pami23" and plus.preset_name == "pami23"
    same = plus.replace(caj_variant="iccv21", dataset="sysu", preset_name="reference")
    assert same == caj
    streams = plus.build_augment()
    assert isinstance(streams, CAJStreams) and streams.variant == "pami23"
    assert streams.size == (288, 144)
    loss = caj.build_criterion()
    assert loss.metric == "adp" and isinstance(loss.metric_loss, AdaptiveTripletLoss)
    assert not loss.metric_loss.cross_modality_only
    # The demo: the shared CPU budget on CAJ's own streams, no VIMC.
    demo = CAJRecipe.preset("demo", "llcm")
    assert (demo.augment, demo.vimc_p, demo.arch, demo.image_size) == (
        "caj", 0.5, "resnet18", (128, 64)
    )  # fmt: skip
    # as many images through the network as the 36-epoch demos: 1.5 per sampled image
    assert demo.epochs * 3 == AGWRecipe.preset("demo").epochs * 2
    with pytest.raises(ValueError, match="caj_variant only applies to augment='caj'"):
        CAJRecipe.preset("reference", augment="agw", caj_variant="pami23")
    with pytest.raises(ValueError, match="'caj_variant' must be one of 'iccv21', 'pami23'"):
        CAJRecipe.preset("reference", caj_variant="pami")
    # Any recipe with augment="caj" trains on the streams; others on BatchAugment.
    assert isinstance(AGWRecipe.preset("reference", augment="caj").build_augment(), CAJStreams)
    assert isinstance(CAJRecipe.preset("reference", augment="agw").build_augment(), BatchAugment)


def test_presets_and_lookup_errors():
    assert set(METHODS) == {"mcja", "agw", "caj", "idkl", "emif"}
    assert get_recipe("agw", "demo") == AGWRecipe.preset("demo")
    with pytest.raises(
        ValueError, match="unknown method 'deen'; available: agw, caj, emif, idkl, mcja"
    ):
        get_recipe("deen")
    with pytest.raises(
        ValueError, match="MCJA has no preset 'paper'; available: 'reference', 'demo'"
    ):
        get_recipe("mcja", "paper")
    with pytest.raises(ValueError, match="defined for datasets 'sysu', 'regdb', not 'llcm'"):
        get_recipe("mcja", "reference", "llcm")
    # The demo budget is the same on every synthetic layout; only the dataset tag differs.
    demo = get_recipe("agw", "demo", "regdb")
    assert demo.dataset == "regdb" and demo.replace(dataset="sysu") == get_recipe("agw", "demo")


@pytest.mark.parametrize("cls", [MCJARecipe, AGWRecipe])
def test_demo_presets_are_cpu_sized(cls):
    r = cls.preset("demo")
    assert r.pretrained is None and r.arch == "resnet18" and r.width == 32
    assert r.image_size == (128, 64) and r.sampler == "agw_pk"
    assert r.selection == "val"
    # Every visible image through VIMC, the metric loss mined across modalities; the
    # reference presets keep the released codes' settings.
    assert (r.augment, r.vimc_p, r.cross_modality_mining) == ("mcja", 1.0, True)
    ref = cls.preset("reference")
    assert (ref.vimc_p, ref.cross_modality_mining) == (0.5, False)
    metric = r.build_criterion()
    loss = metric.triplet if cls is MCJARecipe else metric.metric_loss
    assert loss.cross_modality_only


def test_vimc_p_is_checked():
    with pytest.raises(ValueError, match="vimc_p only applies to augment='mcja'"):
        AGWRecipe.preset("reference", vimc_p=1.0)
    with pytest.raises(ValueError, match="'vimc_p' must be <= 1"):
        MCJARecipe.preset("demo", vimc_p=1.5)
    assert MCJARecipe.preset("reference", vimc_p=0.0).vimc_p == 0.0


@pytest.mark.parametrize("cls", [MCJARecipe, AGWRecipe, CAJRecipe, IDKLRecipe])
def test_printing_shows_every_field(cls):
    r = cls.preset("reference")
    text = str(r)
    for f in dataclasses.fields(r):
        assert f"    {f.name} " in text, f.name
    assert cls.method in text


@pytest.mark.parametrize("cls", [MCJARecipe, AGWRecipe, CAJRecipe, IDKLRecipe])
def test_dict_round_trip_through_json(cls):
    r = cls.preset("demo", seed=3)
    data = json.loads(json.dumps(r.to_dict()))
    assert data["method"] == cls.method
    assert cls.from_dict(data) == r
    for other in {MCJARecipe, AGWRecipe, CAJRecipe, IDKLRecipe} - {cls}:
        with pytest.raises(ValueError, match="for method"):
            other.from_dict(data)


def test_values_are_checked():
    r = MCJARecipe.preset("demo")
    with pytest.raises(TypeError, match="has no field"):
        r.replace(learning_rate=0.1)
    with pytest.raises(TypeError, match="'epochs' must be int"):
        r.replace(epochs=2.5)
    with pytest.raises(ValueError, match="'optimizer' must be one of"):
        r.replace(optimizer="lamb")
    with pytest.raises(ValueError, match="'lr' must be > 0"):
        r.replace(lr=0.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        r.replace(milestones=(5, 3))
    with pytest.raises(ValueError, match="width=64"):
        r.replace(pretrained="imagenet")
    with pytest.raises(ValueError, match="even"):
        r.replace(sampler="idkl_random", num_instances=5)
    with pytest.raises(ValueError, match="warmup_epochs"):
        r.replace(warmup_epochs=50)
    with pytest.raises(ValueError, match="'last_stride' must be one of"):
        r.replace(last_stride=3)
    with pytest.raises(ValueError, match="'min_lr_factor' must be <= 1"):
        r.replace(min_lr_factor=1.5)
    with pytest.raises(ValueError, match="'metric_loss' must be one of"):
        AGWRecipe.preset("demo").replace(metric_loss="circle")
    assert isinstance(r.replace(lr=1), Recipe)


def test_overrides_from_command_line_strings():
    r = AGWRecipe.preset("demo").with_strings({
        "lr": "0.01", "image_size": "96x48", "milestones": "3,5", "pretrained": "none",
        "nesterov": "false", "epochs": "4", "head_lr": "None", "schedule": "multistep",
    })  # fmt: skip
    assert (r.lr, r.image_size, r.milestones, r.pretrained, r.nesterov, r.epochs, r.head_lr) == (
        0.01, (96, 48), (3, 5), None, False, 4, None
    )  # fmt: skip
    with pytest.raises(ValueError, match="image_size needs 2"):
        r.with_strings({"image_size": "96"})
    with pytest.raises(ValueError, match="epochs must be an integer"):
        r.with_strings({"epochs": "many"})
    with pytest.raises(TypeError, match="has no field 'method'"):
        r.with_strings({"method": "mcja"})
