"""Engine pieces: LR schedule, optimiser groups, precision, checkpoints, run log, RNG, gathering.

Oracles: the references' schedules written out by hand (AGW's ``lr·(e+1)/10`` warm-up and
``MultiStepLR`` milestones, MCJA's ``MultiStepLR([80, 120])``), the cosine closed form and a
simulated crash during an atomic write. The DDP gather is tested across two processes in
``test_engine_ddp.py``.
"""

from __future__ import annotations

import itertools
import json
import math
import random

import numpy as np
import pytest
import torch

from vireid.engine import (
    CheckpointManager,
    RunLog,
    all_gather_rows,
    build_optimizer,
    get_rng_state,
    grad_scaler,
    load_checkpoint,
    lr_factor,
    resolve_amp,
    save_checkpoint,
    set_learning_rate,
    set_rng_state,
    unwrap_model,
)
from vireid.models import AGW, AGWRecipe, MCJARecipe

# --- schedule ------------------------------------------------------------------------------------


def _agw_reference_lr(epoch: int, base: float = 0.1) -> float:
    """AGW train.py's adjust_learning_rate, transcribed."""
    if epoch < 10:
        return base * (epoch + 1) / 10
    if epoch < 20:
        return base
    if epoch < 50:
        return base * 0.1
    return base * 0.01


def test_agw_schedule_is_the_reference_per_epoch():
    r = AGWRecipe.preset("reference")
    for epoch in range(81):
        for step in (0, 57, 199):
            assert math.isclose(0.1 * lr_factor(r, epoch, step, 200), _agw_reference_lr(epoch))


def test_mcja_schedule_is_multistep_per_epoch():
    r = MCJARecipe.preset("reference")
    for epoch in range(140):
        expected = 3.5e-4 * (0.1 ** ((epoch >= 80) + (epoch >= 120)))
        assert math.isclose(3.5e-4 * lr_factor(r, epoch, 10, 240), expected)
    regdb = MCJARecipe.preset("reference", "regdb")
    assert {lr_factor(regdb, e) for e in range(300)} == {1.0}


def test_step_warmup_and_cosine():
    r = MCJARecipe.preset("demo").replace(epochs=10, warmup_epochs=2, min_lr_factor=0.1)
    steps = 5
    ramp = [lr_factor(r, e, s, steps) for e in range(2) for s in range(steps)]
    assert ramp == pytest.approx([(t + 1) / 10 for t in range(10)])
    assert lr_factor(r, 2, 0, steps) == pytest.approx(1.0)
    assert lr_factor(r, 6, 0, steps) == pytest.approx(0.1 + 0.9 * 0.5)  # halfway: cos(π/2) = 0
    assert lr_factor(r, 9, 5, steps) == pytest.approx(0.1)
    values = [lr_factor(r, e, s, steps) for e in range(2, 10) for s in range(steps)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_optimizer_groups_and_learning_rates():
    r = AGWRecipe.preset("demo").replace(optimizer="sgd", lr=0.01, head_lr=0.1)
    model = AGW(5, arch="resnet18", width=8)
    opt = build_optimizer(model, r)
    assert isinstance(opt, torch.optim.SGD)
    groups = {g["name"]: g for g in opt.param_groups}
    assert set(groups) == {"backbone", "head"}
    assert groups["head"]["base_lr"] == 0.1 and groups["backbone"]["base_lr"] == 0.01
    assert groups["backbone"]["nesterov"] and groups["backbone"]["weight_decay"] == 5e-4
    n_trainable = sum(1 for p in model.parameters() if p.requires_grad)
    assert sum(len(g["params"]) for g in opt.param_groups) == n_trainable
    set_learning_rate(opt, r, epoch=0, step=0, steps=10)
    assert groups["head"]["lr"] == pytest.approx(0.1 * lr_factor(r, 0, 0, 10))
    adam = build_optimizer(torch.nn.Linear(2, 2), r.replace(optimizer="adam"))
    assert isinstance(adam, torch.optim.Adam) and adam.param_groups[0]["name"] == "all"
    with pytest.raises(ValueError, match="no trainable parameter"):
        build_optimizer(torch.nn.Linear(2, 2).requires_grad_(False), r)


# --- precision -----------------------------------------------------------------------------------


def test_resolve_amp():
    cpu = torch.device("cpu")
    assert resolve_amp("auto", cpu) is None
    assert resolve_amp("none", cpu) is None
    assert resolve_amp("bf16", cpu) is torch.bfloat16
    assert resolve_amp("fp16", cpu) is torch.float16
    assert grad_scaler(cpu, torch.float16) is not None
    assert grad_scaler(cpu, torch.bfloat16) is None
    with pytest.raises(ValueError, match="amp must be one of"):
        resolve_amp("fp8", cpu)  # type: ignore[arg-type]


# --- checkpoints ---------------------------------------------------------------------------------


def test_atomic_save_leaves_the_old_file_on_a_crash(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save_checkpoint({"model": {"w": torch.ones(2)}}, path)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"model": {"w": torch.zeros(2)}}, path)
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]  # no temporary left


def test_manager_keeps_last_k_and_best(tmp_path):
    manager = CheckpointManager(tmp_path / "ck", keep_last=2)
    for epoch in range(1, 6):
        manager.save({"model": {}, "epoch": epoch}, epoch, is_best=epoch == 2)
    names = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert names == ["best.pt", "epoch_004.pt", "epoch_005.pt", "last.pt"]
    assert load_checkpoint(manager.last)["epoch"] == 5
    assert load_checkpoint(manager.best)["epoch"] == 2  # survives the rotation of epoch_002.pt
    with pytest.raises(ValueError, match="keep_last"):
        CheckpointManager(tmp_path, keep_last=0)


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does not exist.*checkpoints/last\.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"<html>not a checkpoint</html>")
    with pytest.raises(RuntimeError, match="cannot read checkpoint"):
        load_checkpoint(garbage)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.ones(1)}, other)
    with pytest.raises(RuntimeError, match="not a vireid checkpoint"):
        load_checkpoint(other)


def test_unwrap_model():
    model = torch.nn.Linear(2, 2)
    assert unwrap_model(model) is model
    assert unwrap_model(torch.compile(model, backend="eager")) is model


# --- RNG and logs --------------------------------------------------------------------------------


def test_rng_state_round_trip(tmp_path):
    gen = torch.Generator().manual_seed(5)
    state = get_rng_state({"augment": gen})
    path = save_checkpoint({"model": {}, "rng": state}, tmp_path / "r.pt")
    # NumPy's legacy global generator is what user code draws from; it must be restored too.
    first = (random.random(), np.random.rand(), torch.rand(2), torch.rand(2, generator=gen))  # noqa: NPY002
    set_rng_state(load_checkpoint(path)["rng"], {"augment": gen})
    again = (random.random(), np.random.rand(), torch.rand(2), torch.rand(2, generator=gen))  # noqa: NPY002
    assert first[:2] == again[:2]
    assert torch.equal(first[2], again[2]) and torch.equal(first[3], again[3])


def test_run_log_writes_json_lines(tmp_path):
    with RunLog(tmp_path) as log:
        log.write("train", 3, loss=torch.tensor(1.5), lr=0.1, note="x", bad=float("nan"))
        log.write("eval", 4, mAP=0.5)
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [x["kind"] for x in lines] == ["train", "eval"]
    assert lines[0]["loss"] == 1.5 and lines[0]["step"] == 3 and lines[0]["bad"] == "nan"


def test_run_log_tensorboard_missing_is_a_clear_error(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(ImportError, match=r"pip install 'vireid\[tensorboard\]'"):
        RunLog(tmp_path, tensorboard=True)


def test_all_gather_rows_without_a_group_is_the_identity():
    rows = torch.randn(3, 2)
    assert all_gather_rows(rows, 3) is rows


def test_atomic_writes_leave_the_old_file_or_none(tmp_path):
    import os

    from vireid.engine import atomic_open, write_text_atomic

    target = tmp_path / "deep" / "results.json"
    write_text_atomic(target, '{"ok": 1}')
    assert target.read_text() == '{"ok": 1}'
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600
    with pytest.raises(RuntimeError, match="disk full"), atomic_open(target, "w") as f:
        f.write('{"half')
        raise RuntimeError("disk full")
    assert target.read_text() == '{"ok": 1}'  # the previous file, intact
    assert sorted(p.name for p in target.parent.iterdir()) == ["results.json"]  # no temp left
    with pytest.raises(ValueError, match="mode must be 'wb' or 'w'"), atomic_open(target, "a"):
        pass
