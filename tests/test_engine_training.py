"""The training engine end to end on a tiny synthetic SYSU-MM01-like tree.

What is checked: a short run of each method lowers its loss with every term finite; a run that is
stopped and resumed ends with exactly the weights of an uninterrupted run (``torch.equal``); a
NaN loss stops training with an error naming the term, the step and the epoch, before any
checkpoint of that state; model selection uses the validation identities; clear errors for a
class-count mismatch and a missing validation split; the JSONL log.
"""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from vireid.data import SYSUMM01, make_sysu_like
from vireid.engine import (
    FeatureExtractor,
    NonFiniteLossError,
    build_train_loader,
    evaluate_validation,
    fit,
    load_checkpoint,
)
from vireid.models import get_recipe

TINY = {
    "image_size": (32, 16),
    "width": 8,
    "ids_per_batch": 3,
    "num_instances": 2,
    "epochs": 2,
    "warmup_epochs": 1,
    "eval_interval": 1,
    "eval_start": 0,
}


@pytest.fixture(scope="module")
def tiny_sysu(tmp_path_factory):
    root = make_sysu_like(tmp_path_factory.mktemp("sysu") / "tree", num_ids=12, seed=3,
                          size=(32, 16), images_per_camera=2)  # fmt: skip
    return SYSUMM01(root, official_split=False)


def _build(method: str, split, **overrides):
    recipe = get_recipe(method, "demo", **{**TINY, **overrides})
    torch.manual_seed(recipe.seed)
    return recipe, recipe.build_model(split.num_classes), recipe.build_criterion()


def _run(method, dataset, out, **kwargs):
    split = dataset.validation_split()
    recipe, model, criterion = _build(method, split, **kwargs.pop("recipe", {}))
    result = fit(model, criterion, recipe, split.train, validation=split, output_dir=out,
                 device="cpu", progress=False, **kwargs)  # fmt: skip
    return recipe, model, result


@pytest.mark.parametrize("method", ["mcja", "agw", "caj", "idkl", "emif"])
def test_a_short_run_lowers_the_loss(method, tiny_sysu, tmp_path):
    split = tiny_sysu.validation_split()
    recipe, model, criterion = _build(method, split, epochs=6, lr=3e-3)
    result = fit(model, criterion, recipe, split.train, validation=split, output_dir=tmp_path,
                 device="cpu", progress=False, log_every=1)  # fmt: skip
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert len(epochs) == 6
    first, last = epochs[0]["total"], epochs[-1]["total"]
    assert last < first, (first, last)
    train = [r for r in records if r["kind"] == "train"]
    assert train and all(isinstance(r["total"], float) for r in train)  # finite: no "nan" strings
    id_term = "id_shared" if method == "idkl" else "id"
    assert {"lr", "images_per_second", "peak_memory_mb", id_term} <= set(train[0])
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["epoch"] for r in evals] == list(range(1, 7))
    assert records[0]["kind"] == "start" and records[0]["recipe"]["method"] == method
    # best.pt is the epoch with the best validation mAP, and holds that epoch's weights
    best = max(evals, key=lambda r: r["mAP"])
    assert result.best_epoch == best["epoch"] and result.best_score == pytest.approx(best["mAP"])
    state = load_checkpoint(result.best_checkpoint)
    assert state["epoch"] == best["epoch"] and state["method"] == method
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "best.pt", "epoch_004.pt", "epoch_005.pt", "epoch_006.pt", "last.pt"
    ]  # fmt: skip
    assert result.images_per_second > 0 and result.finished


@pytest.mark.parametrize("method", ["mcja", "agw", "caj", "idkl", "emif"])
def test_resume_is_bit_exact(method, tiny_sysu, tmp_path):
    _, straight, _ = _run(method, tiny_sysu, tmp_path / "straight", recipe={"epochs": 3})
    _, _, part = _run(method, tiny_sysu, tmp_path / "split", recipe={"epochs": 3}, stop_after=1)
    assert not part.finished and part.epochs_done == 1
    _, resumed, result = _run(method, tiny_sysu, tmp_path / "split", recipe={"epochs": 3},
                              resume=tmp_path / "split" / "checkpoints" / "last.pt")  # fmt: skip
    assert result.finished and result.epochs_done == 3
    a, b = straight.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    sa = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    sb = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    for (ka, va), (kb, vb) in zip(sa["optimizer"]["state"].items(),
                                  sb["optimizer"]["state"].items(), strict=True):  # fmt: skip
        assert ka == kb and all(torch.equal(va[n], vb[n]) for n in va)
    assert sa["history"] == sb["history"] and sa["global_step"] == sb["global_step"]


def test_resume_checks_the_checkpoint(tiny_sysu, tmp_path):
    _run("mcja", tiny_sysu, tmp_path / "a", recipe={"epochs": 1})
    last = tmp_path / "a" / "checkpoints" / "last.pt"
    with pytest.raises(ValueError, match="trained with method 'mcja', not 'agw'"):
        _run("agw", tiny_sysu, tmp_path / "b", resume=last)
    with pytest.raises(ValueError, match=r"recipe differs .*lr: 0\.002 → 0\.01"):
        _run("mcja", tiny_sysu, tmp_path / "c", recipe={"lr": 0.01}, resume=last)
    # the cosine schedule spreads over all epochs: more epochs would change the remaining LRs
    with pytest.raises(ValueError, match="cosine schedule spreads over all epochs"):
        _run("mcja", tiny_sysu, tmp_path / "a", recipe={"epochs": 2}, resume=last)
    # under a multistep schedule more epochs is allowed: training continues
    step = {"schedule": "multistep", "milestones": (2,), "epochs": 1}
    _run("mcja", tiny_sysu, tmp_path / "m", recipe=step)
    _, _, result = _run("mcja", tiny_sysu, tmp_path / "m", recipe={**step, "epochs": 2},
                        resume=tmp_path / "m" / "checkpoints" / "last.pt")  # fmt: skip
    assert result.epochs_done == 2


class _PoisonAt:
    """A criterion that turns the CMR term into NaN from a given call on."""

    def __init__(self, criterion, at: int) -> None:
        self.criterion, self.at, self.calls = criterion, at, 0

    def to(self, device):
        return self

    def __call__(self, output, labels, modalities):
        self.calls += 1
        terms = self.criterion(output, labels, modalities)
        if self.calls >= self.at:
            terms["cmr"] = terms["cmr"] * float("nan")
            terms["total"] = terms["id"] + terms["cmr"]
        return terms


def test_a_nan_loss_stops_training_and_names_the_term(tiny_sysu, tmp_path):
    split = tiny_sysu.validation_split()
    recipe, model, criterion = _build("mcja", split, epochs=3)
    steps = len(build_train_loader(split.train, recipe, device=torch.device("cpu"))[0])
    poison = _PoisonAt(criterion, at=steps + 2)  # the second step of epoch 2
    with pytest.raises(NonFiniteLossError, match=r"'cmr' is nan at step 2 of epoch 2"):
        fit(model, poison, recipe, split.train, validation=split, output_dir=tmp_path,
            device="cpu", progress=False)  # fmt: skip
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["best.pt", "epoch_001.pt", "last.pt"]  # nothing after the poisoned step
    state = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_fit_argument_errors(tiny_sysu, tmp_path):
    split = tiny_sysu.validation_split()
    recipe, model, criterion = _build("mcja", split)
    with pytest.raises(ValueError, match="pass validation="):
        fit(model, criterion, recipe, split.train, output_dir=tmp_path, device="cpu")
    wrong = recipe.build_model(split.num_classes + 3)
    with pytest.raises(ValueError, match=r"has 10 classes but the training labels span 7"):
        fit(wrong, criterion, recipe, split.train, validation=split, output_dir=tmp_path,
            device="cpu")  # fmt: skip


def test_selection_last_trains_on_train_and_val(tiny_sysu, tmp_path):
    recipe = get_recipe("agw", "demo", **{**TINY, "selection": "last", "epochs": 1})
    torch.manual_seed(0)
    model = recipe.build_model(tiny_sysu.num_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = fit(model, recipe.build_criterion(), recipe, tiny_sysu.train,
                     output_dir=tmp_path, device="cpu", progress=False)  # fmt: skip
    assert result.best_epoch == 1 and result.best_score is None and result.history == []
    assert load_checkpoint(result.best_checkpoint)["num_classes"] == tiny_sysu.num_classes == 9


def test_validation_uses_only_held_out_identities(tiny_sysu):
    split = tiny_sysu.validation_split()
    held = set(tiny_sysu.val_ids)
    assert {s.pid for s in split.query} == {s.pid for s in split.gallery} == held
    assert not held & {s.pid for s in split.train}
    assert not set(tiny_sysu.test_ids) & ({s.pid for s in split.train} | held)
    recipe, model, _ = _build("mcja", split)
    metrics = evaluate_validation(FeatureExtractor(model.eval(), recipe.image_size), split)
    assert metrics.exclude == "sysu" and metrics.cmc_variant == "dedup"
    assert metrics.num_queries == len(split.query)
