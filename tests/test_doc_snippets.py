"""Every code block of README.md and docs/ runs, on small synthetic data, on a CPU.

Collection: the fenced blocks of ``README.md`` and ``docs/**/*.md``, except ``docs/javascripts/``
(KaTeX) and ``docs/snippets/`` (placeholders that the demo run fills in).

``python`` blocks
    The blocks of one file run in document order in one namespace, as a reader going down the
    page would run them (a later block may use what an earlier one defined), in a fresh
    temporary working directory, with a time budget per block. A failure names the block
    (``docs/datasets.md#2``: the second ``python`` block of the page), its Markdown line, its
    first line and the exception. A block preceded by ``<!-- snippet: skip (reason) -->`` is
    not run; `test_skipped_block` reports each with its reason, and every marker must carry one.

``bash`` / ``console`` blocks (one line = one command, ``&&`` chains split)
    ``vireid data ...`` runs in-process through ``vireid.cli.main`` (the ``vireid`` console
    script's entry point) in a fresh temporary directory per block; ``/tmp/...`` paths are moved
    into that directory. ``python examples/train_sysu.py ...`` and ``torchrun ...
    examples/train_sysu.py ...`` are not run (minutes, or several GPUs; ``test_examples.py``
    runs the script): every option they use must be one the script's ``--help`` lists, the
    arguments must parse, and without ``--resume`` the script's own ``build_recipe`` must accept
    them. Every ``--option`` of the option table on the Training page is checked the same way.
    Any other ``python SCRIPT`` line: the script must exist and define each option it is given.
    ``pip``, ``python -m pytest`` and ``mkdocs`` lines are not run (installing, the test suite
    itself, serving the site). Any other command fails the test until it is taught here.

What the test changes when it runs a block — the Markdown stays as readers see it:

1. Real dataset folders. The string literals ``"/data/SYSU-MM01"``, ``"/data/RegDB"`` and
   ``"/data/LLCM"`` become synthetic trees generated once per test run
   (``make_sysu_like(num_ids=12, images_per_camera=2, size=(32, 16))``,
   ``make_regdb_like(num_ids=6, images_per_person=2, size=(32, 16))``,
   ``make_llcm_like(num_ids=9, images_per_camera=1, size=(32, 16))``). Their identity split is
   not SYSU-MM01's official one, so ``SYSUMM01`` is constructed with ``official_split=False``
   for those trees only. SYSU-MM01's images are person crops of many sizes; so that a loader
   which forgets to resize fails here as it would there, cameras 4, 5 and 6 of the SYSU-like
   tree come from the same tree generated at 48×24 (same files, same ``rand_perm_cam.mat``).
   Any other ``"/data/..."`` literal fails the test.
2. Run folders. A string literal starting with ``"runs/..."`` (the Training page's "your run
   folder") points at a run that ``fit`` wrote once per test run, with the small recipe of 4.
3. Devices. Without a GPU the string literals ``"cuda"`` / ``"cuda:N"`` become ``"cpu"`` and
   ``x.cuda(...)`` becomes ``x.to("cpu", ...)``.
4. Cost. ``Recipe.preset`` (behind ``get_recipe``) returns its preset with
   ``arch="resnet18", width=8, pretrained=None, image_size=(32, 16), epochs=1,
   warmup_epochs=0, milestones=(), ids_per_batch=2, num_instances=4``; ``vireid.engine.fit``
   runs with ``max_steps_per_epoch=2, progress=False, num_workers=0``; a call's
   ``num_workers=N`` keyword becomes ``num_workers=0`` (no worker processes).
5. Pretrained weights. ``vireid.models.backbones.resnet._read_state_dict`` returns no state
   dict, so ``resnet50(pretrained=True)`` or ``pretrained="<file>.pth"`` keeps torchvision's
   random initialisation: nothing is downloaded or read.
6. Given names. A snippet that works on "your" tensors, model, loader or optimiser gets them
   from `GIVEN` (below), made on the synthetic trees: ranking inputs with SYSU-MM01 cameras,
   ``loader`` a real ``DataLoader(ImageDataset(..., size=...), batch_sampler=
   CrossModalityIdentitySampler(...))`` cut to its first two batches (so it yields vireid's
   dict batches, and a snippet that unpacks them as tuples fails), ``model`` a vireid assembly
   where the page trains one and a small stand-in exposing the named fields where the page
   describes your own network. Every given name must be used by its page.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import io
import re
import shlex
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import vireid.engine
import vireid.engine.trainer
import vireid.models.backbones.resnet
from vireid.data import (
    SYSUMM01,
    CrossModalityIdentitySampler,
    ImageDataset,
    make_llcm_like,
    make_regdb_like,
    make_sysu_like,
)
from vireid.metrics import sysu_metrics
from vireid.models import get_recipe
from vireid.models.recipe import Recipe

ROOT = Path(__file__).resolve().parents[1]
EXCLUDED_DIRS = ("docs/javascripts/", "docs/snippets/")

#: Seconds one ``python`` block may take, and all the blocks of one page together.
BLOCK_BUDGET_S = 30.0
FILE_BUDGET_S = 60.0
#: Seconds one command line may take.
COMMAND_BUDGET_S = 20.0

SMALL_RECIPE: dict[str, Any] = {
    "arch": "resnet18",
    "width": 8,
    "pretrained": None,
    "image_size": (32, 16),
    "epochs": 1,
    "warmup_epochs": 0,
    "milestones": (),
    "ids_per_batch": 2,
    "num_instances": 4,
}
SMALL_FIT: dict[str, Any] = {"max_steps_per_epoch": 2, "progress": False, "num_workers": 0}

# --- collecting the blocks ------------------------------------------------------------------

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_SKIP = re.compile(r"^\s*<!--\s*snippet:\s*skip\s*(?:\((?P<reason>.*)\))?\s*-->\s*$")
_PYTHON = ("python", "py", "pycon")
_SHELL = ("bash", "sh", "shell", "console")


@dataclass(frozen=True)
class Block:
    """One fenced block of a Markdown file."""

    file: str  # relative to the repository root
    lang: str
    index: int  # 1-based among the file's blocks of the same kind (python / shell)
    line: int  # 1-based line of the first code line in the Markdown
    code: str
    skip: str | None  # the reason of a skip marker, "" for a marker without one

    @property
    def id(self) -> str:
        kind = "" if self.lang in _PYTHON else "sh"
        return f"{self.file}#{kind}{self.index}"

    @property
    def first_line(self) -> str:
        return next((s for s in self.code.splitlines() if s.strip()), "").strip()


def markdown_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [p for p in files if not p.relative_to(ROOT).as_posix().startswith(EXCLUDED_DIRS)]


def parse_blocks(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown file, with their skip markers."""
    rel = path.relative_to(ROOT).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    counts = {"python": 0, "shell": 0, "other": 0}
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence = m["indent"], m["fence"]
        info = m["info"].strip()
        lang = info.split()[0].lower().lstrip("{.").rstrip("}") if info else ""
        marker = _SKIP.match(lines[i - 1]) if i > 0 else None
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            close = _FENCE.match(lines[j])
            if close and close["fence"].startswith(fence) and not close["info"].strip():
                break
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        kind = "python" if lang in _PYTHON else "shell" if lang in _SHELL else "other"
        counts[kind] += 1
        skip = None if marker is None else (marker["reason"] or "").strip()
        blocks.append(Block(rel, lang, counts[kind], i + 2, "\n".join(body) + "\n", skip))
        i = j + 1
    return blocks


def all_blocks() -> list[Block]:
    return [b for path in markdown_files() for b in parse_blocks(path)]


def _python_files() -> list[str]:
    return sorted({b.file for b in all_blocks() if b.lang in _PYTHON and b.skip is None})


def _shell_files() -> list[str]:
    return sorted({b.file for b in all_blocks() if b.lang in _SHELL})


def _skipped() -> list[Block]:
    return [b for b in all_blocks() if b.skip is not None]


# --- the synthetic trees --------------------------------------------------------------------


@dataclass
class Trees:
    base: Path  # every tree the dataset paths are replaced with lives under here
    sysu: Path
    regdb: Path
    llcm: Path

    @property
    def paths(self) -> dict[str, Path]:
        return {"/data/SYSU-MM01": self.sysu, "/data/RegDB": self.regdb, "/data/LLCM": self.llcm}


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> Trees:
    base = tmp_path_factory.mktemp("snippet-data")
    small = {"seed": 0, "size": (32, 16)}
    sysu = make_sysu_like(base / "SYSU-MM01", num_ids=12, images_per_camera=2, **small)
    larger = make_sysu_like(base / "larger", num_ids=12, images_per_camera=2, seed=0,
                            size=(48, 24))  # fmt: skip
    for cam in ("cam4", "cam5", "cam6"):  # mixed image sizes, as in SYSU-MM01
        shutil.rmtree(sysu / cam)
        shutil.move(larger / cam, sysu / cam)
    shutil.rmtree(larger)
    return Trees(
        base=base,
        sysu=sysu,
        regdb=make_regdb_like(base / "RegDB", num_ids=6, images_per_person=2, **small),
        llcm=make_llcm_like(base / "LLCM", num_ids=9, images_per_camera=1, **small),
    )


@contextlib.contextmanager
def cheap_library(trees: Trees) -> Iterator[None]:
    """Substitutions 1, 4 and 5 of the module docstring, undone on exit."""
    with pytest.MonkeyPatch.context() as mp:
        original_init = SYSUMM01.__init__

        def init(self, root, **kwargs):
            resolved = Path(root).expanduser().resolve()
            if resolved.is_relative_to(trees.base.resolve()):
                kwargs["official_split"] = False
            original_init(self, root, **kwargs)

        mp.setattr(SYSUMM01, "__init__", init)

        original_preset = Recipe.preset.__func__  # type: ignore[attr-defined]

        def preset(cls, name="reference", dataset="sysu", **overrides):
            return original_preset(cls, name, dataset, **overrides).replace(**SMALL_RECIPE)

        mp.setattr(Recipe, "preset", classmethod(preset))

        original_fit = vireid.engine.trainer.fit

        def fit(*args, **kwargs):
            return original_fit(*args, **{**kwargs, **SMALL_FIT})

        mp.setattr(vireid.engine, "fit", fit)
        mp.setattr(vireid.engine.trainer, "fit", fit)
        mp.setattr(vireid.models.backbones.resnet, "_read_state_dict", lambda *a, **k: None)
        yield


@pytest.fixture(scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_run(trees, tmp_path_factory, one_thread) -> Path:
    """A run folder written by ``fit`` with the small recipe (substitution 2)."""
    out = tmp_path_factory.mktemp("snippet-run") / "run"
    with cheap_library(trees):
        dataset = SYSUMM01(trees.sysu)
        split = dataset.validation_split()
        recipe = get_recipe("mcja", "demo", "sysu")
        model = recipe.build_model(split.num_classes)
        vireid.engine.fit(model, recipe.build_criterion(), recipe, split.train,
                          validation=split, output_dir=out, device="cpu")  # fmt: skip
    return out


# --- the names a page leaves to the reader ---------------------------------------------------


def _ranking(seed: int = 0, q: int = 24, g: int = 40, ids: int = 8, dim: int = 16) -> dict:
    """Query/gallery features, identities and SYSU-MM01 cameras with some signal in them."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(ids, dim, generator=gen)
    q_ids = torch.arange(q) % ids
    g_ids = torch.arange(g) % ids
    return {
        "q_feat": centres[q_ids] + 0.8 * torch.randn(q, dim, generator=gen),
        "g_feat": centres[g_ids] + 0.8 * torch.randn(g, dim, generator=gen),
        "q_ids": q_ids,
        "g_ids": g_ids,
        "q_cams": torch.tensor([3, 6])[torch.arange(q) % 2],
        "g_cams": torch.tensor([1, 2, 4, 5])[torch.arange(g) % 4],
    }


def _trials(n: int = 10) -> list:
    out = []
    for t in range(n):
        r = _ranking(seed=t)
        dist = torch.cdist(r["q_feat"], r["g_feat"])
        out.append(sysu_metrics(dist, r["q_ids"], r["g_ids"], r["q_cams"], r["g_cams"]))
    return out


class _FirstBatches:
    """The first ``n`` batches of a DataLoader, every time it is iterated."""

    def __init__(self, loader: torch.utils.data.DataLoader, n: int = 2) -> None:
        self.loader, self.n = loader, n

    def __iter__(self):
        for i, batch in enumerate(self.loader):
            if i == self.n:
                return
            yield batch

    def __len__(self) -> int:
        return min(self.n, len(self.loader))


def _loader(trees: Trees, size: tuple[int, int], variant: str = "agw_pk") -> _FirstBatches:
    ds = SYSUMM01(trees.sysu, official_split=False)
    k = 4 if variant == "idkl_random" else 2
    sampler = CrossModalityIdentitySampler(ds.train, ids_per_batch=2, num_instances=k,
                                           variant=variant, seed=0)  # fmt: skip
    dataset = ImageDataset(ds.train, size=size)
    return _FirstBatches(torch.utils.data.DataLoader(dataset, batch_sampler=sampler))


def _num_classes(trees: Trees) -> int:
    return SYSUMM01(trees.sysu, official_split=False).num_classes


class _Pool(nn.Module):
    """A few convolutions and global pooling: images ``(B, 3, H, W)`` -> ``(B, dim)``."""

    def __init__(self, dim: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, dim, 5, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


class TwoBranchStandIn(nn.Module):
    """Stands in for "your IDKL-style two-branch model": the fields the IDKL page reads."""

    def __init__(self, num_classes: int, dim: int = 32) -> None:
        super().__init__()
        self.pool = _Pool(dim)
        self.shared, self.specific = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.id_sh, self.id_sp = nn.Linear(dim, num_classes), nn.Linear(dim, num_classes)
        self.entropy_head = nn.Linear(dim, num_classes)
        self.modality_head = nn.Linear(dim, 2)

    def forward(self, images: torch.Tensor) -> SimpleNamespace:
        h = self.pool(images)
        f_sh, f_sp = self.shared(h), self.specific(h)
        mask = torch.sigmoid(f_sp)
        return SimpleNamespace(
            f_sh=f_sh,
            f_sp=f_sp,
            z_sh=self.id_sh(f_sh),
            z_sp=self.id_sp(f_sp),
            z_raw=self.entropy_head(f_sp),
            z_enh=self.entropy_head(mask * f_sp),
            u=F.relu(f_sp),
            v=F.relu(mask * f_sp),
            modality_logits_sh=self.modality_head(f_sh),
        )


class BranchStandIn(nn.Module):
    """Stands in for the Distribution page's model: ``f``, ``z``, ``logits``, ``g``, ..."""

    def __init__(self, num_classes: int, dim: int = 32) -> None:
        super().__init__()
        self.pool = _Pool(dim)
        self.neck = nn.BatchNorm1d(dim)
        self.branch = nn.Linear(dim, dim)
        self.classifier = nn.Linear(dim, num_classes, bias=False)
        self.branch_classifier = nn.Linear(dim, num_classes, bias=False)

    def forward(self, images: torch.Tensor, modalities: torch.Tensor) -> SimpleNamespace:
        f = self.pool(images)
        z = self.neck(f)
        g = self.branch(f)
        return SimpleNamespace(
            f=f, z=z, logits=self.classifier(z), g=g, branch_logits=self.branch_classifier(g)
        )


def _given_readme(trees: Trees) -> dict[str, Any]:
    r = _ranking()
    gen = torch.Generator().manual_seed(1)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1, 2])
    return {
        "query_feat": r["q_feat"],
        "gallery_feat": r["g_feat"],
        "query_ids": r["q_ids"],
        "gallery_ids": r["g_ids"],
        "query_cams": r["q_cams"],
        "gallery_cams": r["g_cams"],
        "list_of_ten_trials": _trials(),
        "logits": torch.randn(9, 3, generator=gen, requires_grad=True),
        "features": torch.randn(9, 16, generator=gen, requires_grad=True),
        "labels": labels,
        "modalities": torch.tensor([0, 1, 0, 1, 0, 1, 1, 0, 1]),
    }


def _given_index(trees: Trees) -> dict[str, Any]:
    r = _ranking()
    return {
        "query_features": r["q_feat"],
        "gallery_features": r["g_feat"],
        "query_ids": r["q_ids"],
        "gallery_ids": r["g_ids"],
        "query_cams": r["q_cams"],
        "gallery_cams": r["g_cams"],
    }


def _given_evaluation(trees: Trees) -> dict[str, Any]:
    return {**_ranking(), "trials": _trials()}


def _given_datasets(trees: Trees) -> dict[str, Any]:
    def extract(samples):  # a feature source: a feature per identity, plus noise
        gen = torch.Generator().manual_seed(len(samples))
        pids = torch.tensor([s.pid for s in samples])
        return F.one_hot(pids % 16, 16).float() + 0.3 * torch.randn(len(pids), 16, generator=gen)

    return {"epochs": 1, "extract": extract, "root": trees.sysu}


def _given_nn(trees: Trees) -> dict[str, Any]:
    return {
        "confuser": nn.Linear(2048, 2),
        "g_sh": torch.randn(4, 2048, requires_grad=True),
        "total_steps": 3,
        "g_sp": torch.randn(4, 2048),
        "modality": torch.tensor([0, 1, 0, 1]),
        "f_sp_map": torch.randn(2, 2048, 24, 9),
        "x": torch.randn(2, 3, 64, 32),
    }


def _given_augmentations(trees: Trees) -> dict[str, Any]:
    return {"loader": _loader(trees, (384, 192))}


def _given_idkl(trees: Trees) -> dict[str, Any]:
    from vireid.losses import CrossEntropyLabelSmooth, TripletLoss

    model = TwoBranchStandIn(_num_classes(trees))
    ce, triplet = CrossEntropyLabelSmooth(epsilon=0.0), TripletLoss(margin=0.3)

    def id_and_triplet_losses(out, labels):
        return ce(out.z_sh, labels) + triplet(out.f_sh, labels)

    return {
        "loader": _loader(trees, (288, 144), "idkl_random"),
        "model": model,
        "id_and_triplet_losses": id_and_triplet_losses,
        "optimizer": torch.optim.SGD(model.parameters(), lr=0.01),
    }


def _given_metric(trees: Trees) -> dict[str, Any]:
    recipe = get_recipe("agw", "reference", "sysu")  # the small recipe (substitution 4)
    model = recipe.build_model(_num_classes(trees))
    return {
        "loader": _loader(trees, (288, 144)),
        "model": model,
        "optimizer": torch.optim.SGD(model.parameters(), lr=0.01),
    }


def _given_distribution(trees: Trees) -> dict[str, Any]:
    model = BranchStandIn(_num_classes(trees))
    return {
        "loader": _loader(trees, (288, 144)),
        "model": model,
        "optimizer": torch.optim.SGD(model.parameters(), lr=0.01),
    }


#: Page -> the names it leaves to the reader, made on the synthetic trees (substitution 6).
GIVEN: dict[str, Callable[[Trees], dict[str, Any]]] = {
    "README.md": _given_readme,
    "docs/index.md": _given_index,
    "docs/guides/evaluation.md": _given_evaluation,
    "docs/datasets.md": _given_datasets,
    "docs/nn.md": _given_nn,
    "docs/augmentations.md": _given_augmentations,
    "docs/losses/idkl.md": _given_idkl,
    "docs/losses/metric.md": _given_metric,
    "docs/losses/distribution.md": _given_distribution,
}

# --- rewriting a block before it runs --------------------------------------------------------


class Substitute(ast.NodeTransformer):
    """Substitutions 1-4 of the module docstring, on the syntax tree of one block."""

    def __init__(self, trees: Trees, run: Callable[[], Path], cuda: bool) -> None:
        self.trees, self.run, self.cuda = trees, run, cuda

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if not isinstance(value, str):
            return node
        for literal, path in self.trees.paths.items():
            if value == literal or value.startswith(literal + "/"):
                return ast.copy_location(ast.Constant(str(path) + value[len(literal) :]), node)
        if value.startswith("/data/"):
            raise AssertionError(f"no synthetic stand-in for the dataset path {value!r}")
        if value.startswith("runs/.../"):
            replaced = str(self.run() / value[len("runs/.../") :])
            return ast.copy_location(ast.Constant(replaced), node)
        if not self.cuda and re.fullmatch(r"cuda(:\d+)?", value):
            return ast.copy_location(ast.Constant("cpu"), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        for kw in node.keywords:
            if kw.arg == "num_workers":
                kw.value = ast.copy_location(ast.Constant(0), kw.value)
        func = node.func
        if not self.cuda and isinstance(func, ast.Attribute) and func.attr == "cuda":
            node.func = ast.copy_location(ast.Attribute(func.value, "to", ast.Load()), func)
            node.args = [ast.copy_location(ast.Constant("cpu"), node), *node.args]
        return node


class BlockTimeout(Exception):
    pass


@contextlib.contextmanager
def time_budget(seconds: float, what: str) -> Iterator[None]:
    def expire(signum, frame):
        raise BlockTimeout(f"{what} ran past its budget of {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _names_used(code: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}


def _describe(block: Block, err: BaseException) -> str:
    tb = "".join(traceback.format_exception(type(err), err, err.__traceback__, limit=-6))
    return (
        f"{block.id} (Markdown line {block.line}, starting {block.first_line!r}) raised "
        f"{type(err).__name__}: {err}\n\n{tb}"
    )


# --- the tests --------------------------------------------------------------------------------


def test_blocks_are_collected():
    blocks = all_blocks()
    files = {b.file for b in blocks}
    assert "README.md" in files and "docs/datasets.md" in files
    assert not any(f.startswith(EXCLUDED_DIRS) for f in files)
    assert sum(b.lang in _PYTHON for b in blocks) >= 20
    for b in blocks:
        assert b.lang in (*_PYTHON, *_SHELL, "", "text"), f"{b.id}: unknown language {b.lang!r}"


def test_skip_markers_name_a_reason_and_precede_a_python_block():
    for path in markdown_files():
        rel = path.relative_to(ROOT).as_posix()
        lines = path.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines):
            if "snippet:" not in line or not line.lstrip().startswith("<!--"):
                continue
            m = _SKIP.match(line)
            assert m, f"{rel}:{n + 1}: malformed marker {line.strip()!r}"
            assert (m["reason"] or "").strip(), f"{rel}:{n + 1}: a skip marker needs a (reason)"
            nxt = _FENCE.match(lines[n + 1]) if n + 1 < len(lines) else None
            assert nxt and nxt["info"].strip().split()[0] in _PYTHON, (
                f"{rel}:{n + 1}: a skip marker must sit right above a ```python block"
            )


@pytest.mark.parametrize("block", _skipped() or [None], ids=lambda b: b.id if b else "none")
def test_skipped_block(block):
    """Each block marked ``snippet: skip`` shows up as a skipped test with its reason."""
    if block is not None:
        pytest.skip(f"not run, marked in the Markdown: {block.skip} (starts {block.first_line!r})")


@pytest.mark.parametrize("file", _python_files())
def test_python_blocks(file, trees, tmp_path, monkeypatch, request, one_thread):
    blocks = [b for b in parse_blocks(ROOT / file) if b.lang in _PYTHON and b.skip is None]
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    cuda = torch.cuda.is_available()
    substitute = Substitute(trees, lambda: request.getfixturevalue("tiny_run"), cuda)
    with cheap_library(trees):
        given = GIVEN.get(file, lambda t: {})(trees)
        used = set().union(*(_names_used(b.code) for b in blocks))
        unused = sorted(set(given) - used)
        assert not unused, f"{file}: GIVEN names no block uses: {unused}"
        namespace: dict[str, Any] = {"__name__": "__snippet__", **given}
        timings = []
        for block in blocks:
            try:
                tree = ast.parse(block.code, filename=file)
                ast.increment_lineno(tree, block.line - 1)
                tree = ast.fix_missing_locations(substitute.visit(tree))
                code = compile(tree, str(ROOT / file), "exec")
                start = time.perf_counter()
                with time_budget(BLOCK_BUDGET_S, block.id):
                    exec(code, namespace)
                timings.append((block.id, time.perf_counter() - start))
            except Exception as err:
                pytest.fail(_describe(block, err), pytrace=False)
    print(", ".join(f"{name} {s:.1f} s" for name, s in timings))
    total = sum(s for _, s in timings)
    assert total <= FILE_BUDGET_S, (
        f"{file}: its blocks took {total:.0f} s (budget {FILE_BUDGET_S:.0f} s)"
    )


# --- command lines ----------------------------------------------------------------------------

#: Commands a page shows but the test does not run, with the reason.
NOT_RUN = {
    "pip": "installs packages",
    "mkdocs": "builds or serves the site (tests/test_docs_render.py builds it)",
    "python -m pytest": "runs the test suite itself",
}


def _commands(block: Block) -> Iterator[list[str]]:
    for raw in block.code.splitlines():
        line = raw.strip()
        if block.lang == "console":
            if not line.startswith("$ "):
                continue  # output
            line = line[2:]
        tokens = shlex.split(line, comments=True)
        while tokens:
            if "&&" in tokens:
                cut = tokens.index("&&")
                command, tokens = tokens[:cut], tokens[cut + 1 :]
            else:
                command, tokens = tokens, []
            if command:
                yield command


def _load_script(path: Path):
    # The scripts import their shared module (examples/experiment.py) as `python script.py`
    # does: from the script's folder.
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(f"_snippet_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


_SCRIPTS: dict[Path, Any] = {}
# The training scripts and the dataset their recipes are looked up for.
_TRAINING = {"train_sysu.py": "sysu", "train_regdb.py": "regdb", "train_llcm.py": "llcm"}
_PARSED = (*_TRAINING, "evaluate.py")


def _script(name: str):
    path = ROOT / "examples" / name
    if path not in _SCRIPTS:
        _SCRIPTS[path] = _load_script(path)
    return _SCRIPTS[path]


def _train_sysu():
    return _script("train_sysu.py")


def _help_options(module) -> set[str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        module.parse_args(["--help"])
    return set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", out.getvalue()))


def _check_script(name: str, argv: list[str], where: str) -> None:
    """The script's own parser accepts ``argv``; a training script also builds the recipe."""
    script = _script(name)
    listed = _help_options(script)
    for token in argv:
        if token.startswith("--"):
            option = token.split("=", 1)[0]
            assert option in listed, f"{where}: {name} has no option {option}"
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = script.parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: {name} rejects {argv}: {err.getvalue().strip()}")
    if name in _TRAINING and args.resume is None:
        from experiment import build_recipe

        try:
            build_recipe(args, _TRAINING[name], synthetic=args.data_root is None)
        except SystemExit as exit_:
            pytest.fail(f"{where}: {name} rejects {argv}: {exit_.code}")


def _check_train_sysu(argv: list[str], where: str) -> None:
    _check_script("train_sysu.py", argv, where)


def _check_other_script(argv: list[str], where: str) -> None:
    path = ROOT / argv[0]
    assert path.is_file(), f"{where}: {argv[0]} does not exist"
    source = path.read_text(encoding="utf-8")
    for token in argv[1:]:
        if token.startswith("--"):
            option = token.split("=", 1)[0]
            assert f'"{option}"' in source, f"{where}: {argv[0]} defines no option {option}"


def _run_vireid(argv: list[str], cwd: Path, where: str) -> None:
    from vireid.cli import main

    for token in argv:
        assert token.startswith("/tmp/") or not token.startswith("/"), (
            f"{where}: no stand-in for the path {token!r}"
        )
    moved = [str(cwd / t[len("/tmp/") :]) if t.startswith("/tmp/") else t for t in argv]
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        time_budget(COMMAND_BUDGET_S, where),
    ):
        status = main(moved)
    assert status == 0, f"{where}: `vireid {' '.join(argv)}` exited {status}: {err.getvalue()}"


def test_console_script_is_the_cli_tested_here():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'vireid = "vireid.cli:main"' in text


@pytest.mark.parametrize("file", _shell_files())
def test_command_lines(file, tmp_path, monkeypatch, one_thread):
    blocks = [b for b in parse_blocks(ROOT / file) if b.lang in _SHELL]
    not_run: list[str] = []
    for block in blocks:
        cwd = tmp_path / block.id.rsplit("#", 1)[1]
        cwd.mkdir()
        monkeypatch.chdir(cwd)
        for argv in _commands(block):
            where = f"{block.id} `{' '.join(argv)}`"
            head = " ".join(argv[:3]) if argv[:2] == ["python", "-m"] else argv[0]
            if any(head.startswith(prefix) for prefix in NOT_RUN):
                not_run.append(where)
            elif argv[0] == "vireid":
                _run_vireid(argv[1:], cwd, where)
            elif argv[0] == "torchrun":
                script = next((i for i, t in enumerate(argv) if t.endswith(".py")), None)
                assert script is not None, f"{where}: torchrun without a script"
                assert argv[script] == "examples/train_sysu.py", f"{where}: unknown script"
                _check_train_sysu(argv[script + 1 :], where)
            elif argv[0] == "python" and argv[1:2] in ([f"examples/{n}"] for n in _PARSED):
                _check_script(argv[1].removeprefix("examples/"), argv[2:], where)
            elif argv[0] == "python" and len(argv) > 1 and argv[1].endswith(".py"):
                _check_other_script(argv[1:], where)
            else:
                pytest.fail(f"{where}: the test does not know this command; teach it")
    print("not run:", "; ".join(not_run) or "none")


def test_training_option_table_matches_the_script():
    """Every option of the Training page's table is one ``train_sysu.py --help`` lists."""
    text = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    rows = [line.split("|")[1] for line in text.splitlines() if line.startswith("| `--")]
    assert rows, "the option table of docs/training.md is gone"
    listed = _help_options(_train_sysu())
    documented = {opt for row in rows for opt in re.findall(r"--[a-z][\w-]*", row)}
    missing = sorted(documented - listed)
    assert not missing, f"docs/training.md documents options train_sysu.py lacks: {missing}"


def test_argparse_is_what_the_script_uses():
    # _help_options relies on the script's parse_args printing argparse's help and exiting.
    assert isinstance(_train_sysu().parse_args([]), argparse.Namespace)
