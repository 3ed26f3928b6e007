"""Data-parallel training with two gloo processes on the CPU, as ``torchrun`` would start them.

Checked: both ranks finish with identical weights and BN statistics (DDP all-reduces the
gradients, the engine broadcasts the buffers), only rank 0 logs (one ``start`` record), the
gather of row shards interleaves back into the original order (against a serial ``arange``),
and features gathered across ranks equal a single-process extraction of the saved model.
"""

from __future__ import annotations

import json
import os
import socket
import sys

import pytest
import torch
import torch.multiprocessing as mp

from vireid.data import SYSUMM01, make_sysu_like

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or sys.platform == "win32",
    reason="needs torch.distributed with gloo",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, root: str, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
        LOCAL_RANK=str(rank),
    )  # fmt: skip
    torch.set_num_threads(1)
    from vireid.engine import FeatureExtractor, all_gather_rows, fit, init_distributed
    from vireid.models import get_recipe

    ctx = init_distributed("cpu")
    assert ctx.world_size == world and ctx.rank == rank
    full = torch.arange(11 * 3, dtype=torch.float32).reshape(11, 3)
    gathered = all_gather_rows(full[rank::world], 11)  # shards of 6 and 5 rows
    dataset = SYSUMM01(root, official_split=False)
    split = dataset.validation_split()
    recipe = get_recipe("agw", "demo", image_size=(32, 16), width=8, ids_per_batch=2,
                        num_instances=2, epochs=2, warmup_epochs=1, eval_interval=1)  # fmt: skip
    torch.manual_seed(recipe.seed)  # the same initial weights on every rank
    model = recipe.build_model(split.num_classes)
    fit(model, recipe.build_criterion(), recipe, split.train, validation=split,
        output_dir=os.path.join(out, "run"), device="cpu", progress=False)  # fmt: skip
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    buffers = torch.cat([b.detach().float().flatten() for b in model.buffers()])
    feats = FeatureExtractor(model, recipe.image_size)(dataset.query())
    torch.save({"params": flat, "buffers": buffers, "feats": feats, "gathered": gathered,
                "full": full}, os.path.join(out, f"rank{rank}.pt"))  # fmt: skip
    torch.distributed.destroy_process_group()


def test_two_process_gloo_training(tmp_path):
    root = make_sysu_like(tmp_path / "tree", num_ids=14, seed=4, size=(32, 16),
                          images_per_camera=2)  # fmt: skip
    mp.start_processes(_worker, args=(2, _free_port(), str(root), str(tmp_path)), nprocs=2,
                       start_method="spawn", join=True)  # fmt: skip
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert torch.equal(r0["gathered"], r0["full"]) and torch.equal(r1["gathered"], r1["full"])
    assert torch.equal(r0["params"], r1["params"])
    assert torch.equal(r0["buffers"], r1["buffers"])
    assert torch.equal(r0["feats"], r1["feats"])
    files = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert files == ["best.pt", "epoch_001.pt", "epoch_002.pt", "last.pt"]
    records = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert sum('"kind": "start"' in line for line in records) == 1  # rank 1 wrote nothing
    assert json.loads(records[0])["world_size"] == 2

    # The gathered features equal a one-process extraction of the final model.
    from vireid.engine import FeatureExtractor, load_checkpoint
    from vireid.models import AGWRecipe

    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    recipe = AGWRecipe.from_dict(state["recipe"])
    model = recipe.build_model(state["num_classes"])
    model.load_state_dict(state["model"])
    dataset = SYSUMM01(root, official_split=False)
    single = FeatureExtractor(model, recipe.image_size)(dataset.query())
    torch.testing.assert_close(single, r0["feats"])
