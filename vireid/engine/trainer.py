"""The training loop: `train_one_epoch` and `fit`, in plain PyTorch.

`fit` is the whole run — data, optimiser, schedule, mixed precision, checkpoints, validation,
logs, DDP — and knows nothing about the method: the recipe builds the model and the criterion,
the model returns named tensors and the criterion a dict of named loss terms.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from vireid._modality import check_modality_values
from vireid.augment import AugmentedViews
from vireid.data.sample import Sample
from vireid.data.validation import ValidationSplit
from vireid.engine.checkpoint import CheckpointManager, load_checkpoint, unwrap_model, versions
from vireid.engine.distributed import DistributedContext, init_distributed
from vireid.engine.features import FeatureExtractor
from vireid.engine.loader import build_train_loader
from vireid.engine.optim import build_optimizer
from vireid.engine.precision import AmpMode, autocast, grad_scaler, resolve_amp
from vireid.engine.reproducibility import get_rng_state, seed_everything, set_rng_state
from vireid.engine.run_log import RunLog, peak_memory_mb
from vireid.engine.schedule import set_learning_rate
from vireid.engine.validation import evaluate_validation, validation_score
from vireid.models.recipe import Recipe

__all__ = ["EpochStats", "FitResult", "NonFiniteLossError", "fit", "train_one_epoch"]

CHECKPOINT_FORMAT = 1
# Recipe fields that may change when a run is resumed: they alter neither past epochs nor the
# learning rates of the remaining ones (``epochs`` too, under a multistep schedule).
_RESUMABLE_CHANGES = frozenset({"eval_interval", "eval_start"})


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite; training stopped before the optimiser step."""


@dataclass
class EpochStats:
    """What one epoch of `train_one_epoch` did.

    Attributes:
        steps: Optimiser steps taken.
        images: Images through the network (CAJ's streams: 1.5 per sampled image).
        seconds: Wall time of the epoch.
        losses: Mean of each loss term over the epoch's steps.
        global_step: Steps taken since the start of the run, after this epoch.
    """

    steps: int
    images: int
    seconds: float
    losses: dict[str, float]
    global_step: int

    @property
    def images_per_second(self) -> float:
        """Training throughput of the epoch."""
        return self.images / self.seconds if self.seconds > 0 else 0.0


@dataclass
class FitResult:
    """The outcome of `fit`.

    Attributes:
        best_epoch: Epoch (1-based) of ``best.pt``: the best validation score, or the last
            epoch with ``selection="last"``.
        best_score: Its validation score (``None`` with ``selection="last"``).
        epochs_done: Epochs finished, in this call and before a resume.
        train_seconds: Time spent in training steps (no validation, no checkpoints), all calls.
        images_per_second: Training throughput over ``train_seconds``.
        output_dir: The run folder.
        last_checkpoint: ``<output_dir>/checkpoints/last.pt``.
        best_checkpoint: ``<output_dir>/checkpoints/best.pt``.
        history: One dict per validation: epoch, mAP, rank1, mINP, score.
        finished: Whether every epoch of the recipe is done (``False`` after ``stop_after``).
    """

    best_epoch: int
    best_score: float | None
    epochs_done: int
    train_seconds: float
    images_per_second: float
    output_dir: Path
    last_checkpoint: Path
    best_checkpoint: Path
    history: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = True


def _check_finite(
    terms: Mapping[str, torch.Tensor], epoch: int, step: int, global_step: int, distributed: bool
) -> None:
    values = torch.stack([t.detach().float().reshape(()) for t in terms.values()])
    ok = torch.isfinite(values).all()
    if distributed:
        # Every rank must stop together, or the others would wait forever in the next all-reduce.
        flag = ok.to(torch.int32)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        ok = flag.bool()
    if bool(ok):
        return
    bad = {k: float(v) for k, v in zip(terms, values.tolist(), strict=True)
           if not math.isfinite(v)}  # fmt: skip
    first = next((k for k in bad if k != "total"), next(iter(bad), "another rank's loss"))
    raise NonFiniteLossError(
        f"loss term {first!r} is {bad.get(first, 'non-finite')} at step {step + 1} of epoch "
        f"{epoch + 1} (global step {global_step + 1}); all terms: "
        f"{ {k: float(v) for k, v in zip(terms, values.tolist(), strict=True)} }. Training "
        "stopped before the optimiser step, and no checkpoint was written from this state. "
        "Lower the learning rate, or train in float32 (amp='none') or bfloat16 (amp='bf16')."
    )


def train_one_epoch(
    model: nn.Module,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: Iterable[Mapping[str, torch.Tensor]],
    augment: Callable[[torch.Tensor, torch.Tensor], torch.Tensor | AugmentedViews],
    recipe: Recipe,
    *,
    epoch: int,
    device: torch.device,
    amp_dtype: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
    channels_last: bool = False,
    global_step: int = 0,
    max_steps: int | None = None,
    log: RunLog | None = None,
    log_every: int = 10,
    progress: bool = True,
) -> EpochStats:
    """One pass over ``loader``: augment on the device, forward, loss terms, backward, step.

    Per step: the learning rate of the recipe's schedule; uint8 images, labels and modalities copied
    to ``device`` (non-blocking); ``augment(images, modalities)`` (a
    [`vireid.augment.BatchAugment`][vireid.augment.BatchAugment], or a multi-view augmentation
    returning [`vireid.augment.AugmentedViews`][vireid.augment.AugmentedViews], whose
    ``index`` repeats the labels); ``model(images, modalities)``
    under autocast; ``criterion(output, labels, modalities)`` → terms with ``"total"``; a finiteness
    check of every term (a `NonFiniteLossError` names the term, the step and the epoch); backward,
    with the gradient scaler for float16; the optimiser step. Every ``log_every`` steps the terms,
    the learning rate, img/s and peak memory go to the progress bar and to ``log``.

    Args:
        model: The network, in training mode.
        criterion: ``(output, labels, modalities) -> dict of terms with "total"``.
        optimizer: Built by [`vireid.engine.build_optimizer`][vireid.engine.build_optimizer] (groups
            carry ``base_lr``).
        loader: Batches of ``{"image": uint8 (B,3,H,W), "label": (B,), "modality": (B,)}``.
        augment: Batched augmentation on the device (``recipe.build_augment(generator)``).
        recipe: Supplies the LR schedule.
        epoch: Epoch index, 0-based.
        device: Training device.
        amp_dtype: Autocast dtype, or ``None`` for float32.
        scaler: Gradient scaler (float16 only).
        channels_last: Feed images in channels-last memory format (faster convolutions on GPU).
        global_step: Steps taken before this epoch.
        max_steps: Stop the epoch after this many steps (default: the whole loader).
        log: Where to write the log records (main process only).
        log_every: Steps between log records.
        progress: Show a tqdm bar.

    Returns:
        The `EpochStats` of the epoch.

    Raises:
        NonFiniteLossError: a loss term is NaN or infinite.
    """
    total_steps = len(loader) if isinstance(loader, Sized) else None
    if max_steps is not None and total_steps is not None:
        total_steps = min(total_steps, max_steps)
    steps_for_lr = total_steps or 1
    distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
    sums: dict[str, torch.Tensor] = {}
    images_seen = 0
    start = time.perf_counter()
    # Redirected to a file, a bar that redraws several times a second floods the log.
    interactive = sys.stderr.isatty()
    bar = tqdm(
        total=total_steps,
        desc=f"epoch {epoch + 1}/{recipe.epochs}",
        disable=not progress,
        dynamic_ncols=True,
        leave=True,
        mininterval=0.1 if interactive else 30.0,
    )
    step = 0
    try:
        for step, batch in enumerate(loader):
            if max_steps is not None and step >= max_steps:
                break
            set_learning_rate(optimizer, recipe, epoch, step, steps_for_lr)
            if batch["modality"].device.type == "cpu":  # free here, a host sync on the device
                check_modality_values(batch["modality"], "the loader's modality labels")
            images = batch["image"].to(device, non_blocking=True)
            labels = batch["label"].to(device, non_blocking=True)
            modalities = batch["modality"].to(device, non_blocking=True)
            x = augment(images, modalities)
            if isinstance(x, AugmentedViews):  # more images than sampled (CAJ's streams)
                labels = labels.index_select(0, x.index)
                modalities = x.modalities
                x = x.images
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, amp_dtype):
                output = model(x, modalities)
                terms = criterion(output, labels, modalities)
            if not isinstance(terms, Mapping) or "total" not in terms:
                raise TypeError(
                    "the criterion must return a dict of loss terms with a 'total' entry, got "
                    f"{type(terms).__name__}"
                )
            _check_finite(terms, epoch, step, global_step, distributed)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(terms["total"]).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                terms["total"].backward()
                optimizer.step()
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + value.detach().float()
            images_seen += x.shape[0]
            global_step += 1
            if (step + 1) % log_every == 0 or step + 1 == total_steps:
                elapsed = time.perf_counter() - start
                values = {k: float(v) / (step + 1) for k, v in sums.items()}
                lr = optimizer.param_groups[0]["lr"]
                rate = images_seen / elapsed if elapsed > 0 else 0.0
                mem = peak_memory_mb(device)
                bar.set_postfix({**{k: f"{v:.3f}" for k, v in values.items()},
                                 "lr": f"{lr:.2e}", "img/s": f"{rate:.0f}",
                                 "mem": f"{mem:.0f}M"}, refresh=False)  # fmt: skip
                if log is not None:
                    last = {k: float(v.detach()) for k, v in terms.items()}
                    log.write("train", global_step, epoch=epoch + 1, lr=lr, images_per_second=rate,
                              peak_memory_mb=mem, **last)  # fmt: skip
            bar.update(1)
    finally:
        bar.close()
    steps = min(step + 1, max_steps) if max_steps is not None else step + 1
    if not sums:
        steps = 0
    seconds = time.perf_counter() - start
    losses = {k: float(v) / max(1, steps) for k, v in sums.items()}
    return EpochStats(steps, images_seen, seconds, losses, global_step)


def _epoch_generator_seed(seed: int, rank: int, epoch: int) -> int:
    # The augmentation stream of each (rank, epoch) is fixed by its seed, so a resumed or
    # distributed run draws exactly what an uninterrupted one would.
    return (seed * 1_000_003 + rank * 10_007 + epoch) % (2**63 - 1)


def _should_validate(recipe: Recipe, epochs_done: int) -> bool:
    if epochs_done == recipe.epochs:
        return True
    return epochs_done >= max(1, recipe.eval_start) and epochs_done % recipe.eval_interval == 0


def _check_resume(state: Mapping[str, Any], recipe: Recipe, num_classes: int, path: Path) -> None:
    if state.get("method") != recipe.method:
        raise ValueError(
            f"checkpoint {path} was trained with method {state.get('method')!r}, not "
            f"{recipe.method!r}"
        )
    if state.get("num_classes") != num_classes:
        raise ValueError(
            f"checkpoint {path} has {state.get('num_classes')} classes but the training set has "
            f"{num_classes}; resume on the dataset and split it was trained on"
        )
    saved = dict(state.get("recipe", {}))
    now = recipe.to_dict()
    free = _RESUMABLE_CHANGES | ({"epochs"} if recipe.schedule == "multistep" else set())
    changed = sorted(k for k in now if k not in free and saved.get(k) != now[k])
    if changed:
        diffs = ", ".join(f"{k}: {saved.get(k)!r} → {now[k]!r}" for k in changed)
        why = (
            " (the cosine schedule spreads over all epochs, so changing them would change every "
            "remaining learning rate)"
            if changed == ["epochs"]
            else ""
        )
        raise ValueError(
            f"the recipe differs from the one checkpoint {path} was trained with ({diffs}){why}; "
            "a resumed run must use the same recipe (only eval_interval and eval_start may "
            "change, and epochs under a multistep schedule). Load the recipe from the "
            "checkpoint: type(recipe).from_dict(state['recipe'])"
        )


def fit(
    model: nn.Module,
    criterion: nn.Module,
    recipe: Recipe,
    train: Sequence[Sample],
    *,
    validation: ValidationSplit | None = None,
    output_dir: str | os.PathLike[str],
    device: str | torch.device = "auto",
    amp: AmpMode = "auto",
    compile: bool = False,
    deterministic: bool = False,
    sync_bn: bool = False,
    find_unused_parameters: bool = False,
    resume: str | os.PathLike[str] | None = None,
    cache_images: bool | str = "auto",
    num_workers: int = 0,
    keep_last: int = 3,
    log_every: int = 10,
    tensorboard: bool = False,
    progress: bool = True,
    max_steps_per_epoch: int | None = None,
    stop_after: int | None = None,
) -> FitResult:
    """Train ``model`` with ``criterion`` under ``recipe``; checkpoint, validate, log.

    The run, in order:

    1. Seed everything from ``recipe.seed`` (``deterministic`` for repeatable kernels); join the
       ``torchrun`` process group if there is one
       ([`vireid.engine.init_distributed`][vireid.engine.init_distributed]).
    2. Build the loader ([`vireid.engine.build_train_loader`][vireid.engine.build_train_loader]: the
       recipe's P×K sampler, images decoded and resized to uint8 once or in workers),
       the recipe's batched augmentation on the device (``recipe.build_augment``), the
       optimiser with per-group LRs
       ([`vireid.engine.build_optimizer`][vireid.engine.build_optimizer]), the gradient scaler
       for float16.
    3. Move the model to the device (``channels_last`` on CUDA), optionally convert to SyncBN,
       ``torch.compile`` it (``compile=True``), then wrap it in DDP.
    4. With ``resume``, restore model, optimiser, scaler, epoch, best score, history and RNG
       states from a checkpoint (same method, class count and recipe — ``eval_interval``,
       ``eval_start`` and, under a multistep schedule, ``epochs`` may change — or a clear
       error). Every epoch reseeds the sampler, the augmentation and the global RNGs from
       ``(seed, rank, epoch)``, so the continuation is bit-exact.
    5. Each epoch: `train_one_epoch`; validate on ``validation`` when due
       (``recipe.eval_interval``, ``recipe.eval_start``, and always after the last epoch);
       write ``checkpoints/epoch_XXX.pt`` atomically, keep the last ``keep_last``, point
       ``last.pt`` at it and ``best.pt`` at the best validated epoch (``selection="val"``) or
       at the last one (``selection="last"``). The test set is never looked at.

    Logs: a tqdm bar per epoch (loss terms, LR, img/s, peak memory) and
    ``<output_dir>/metrics.jsonl`` (one line per log step, epoch and validation), optionally
    TensorBoard. Only the main process writes files; under DDP the logged loss values are rank
    0's (each rank sees other identities).

    Args:
        model: A [`vireid.models`][vireid.models] assembly or any module with the same contract.
        criterion: Its criterion.
        recipe: The run's [`vireid.models.Recipe`][vireid.models.Recipe].
        train: Training samples (labels ``0..C-1``; with validation, ``validation.train``).
        validation: Held-out identities for ``selection="val"`` (e.g.
            ``SYSUMM01(root).validation_split()``); required then, ignored otherwise.
        output_dir: Run folder for checkpoints and logs.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``…
        amp: ``"auto"`` (bfloat16 on CUDA, float32 on CPU), ``"bf16"``, ``"fp16"`` (with a
            gradient scaler) or ``"none"``.
        compile: ``torch.compile`` the model (before DDP wrapping).
        deterministic: Deterministic kernels (slower).
        sync_bn: Convert batch norms to SyncBatchNorm under DDP (CUDA only).
        find_unused_parameters: Let DDP tolerate parameters without a gradient in a step (a
            loss weight of 0, a branch a batch does not reach). On automatically for models
            with ``routes_by_modality = True`` (AGW).
        resume: A checkpoint to continue from (e.g. ``<output_dir>/checkpoints/last.pt``).
        cache_images: Decode the training images once into memory (``"auto"``: up to 2 GiB).
        num_workers: DataLoader workers when the images are not cached.
        keep_last: Epoch checkpoints to keep.
        log_every: Steps between log records.
        tensorboard: Also log to TensorBoard (``pip install 'vireid[tensorboard]'``).
        progress: Show progress bars (main process only).
        max_steps_per_epoch: Cap on the steps of each epoch (smoke tests).
        stop_after: Return after this many epochs of this call; resume from ``last.pt`` later
            continues exactly where it stopped.

    Returns:
        A `FitResult`.

    Raises:
        ValueError: ``selection="val"`` without ``validation``, or a checkpoint that does not
            fit the run.
        NonFiniteLossError: a loss term became NaN or infinite.
    """
    if recipe.selection == "val" and validation is None:
        raise ValueError(
            "recipe.selection='val' chooses the checkpoint on held-out identities: pass "
            "validation= (e.g. SYSUMM01(root).validation_split(), training on its .train), or "
            "use recipe.replace(selection='last')"
        )
    train = list(train)
    if not train:
        raise ValueError("train must hold at least one sample")
    num_classes = 1 + max(s.label for s in train)
    model_classes = getattr(unwrap_model(model), "num_classes", None)
    if model_classes is not None and model_classes != num_classes:
        raise ValueError(
            f"the model has {model_classes} classes but the training labels span {num_classes} "
            "(0..C-1); build the model with the training set's num_classes (with validation: "
            "validation.num_classes)"
        )
    ctx: DistributedContext = init_distributed(device)
    dev = ctx.device
    if sync_bn and ctx.distributed and dev.type != "cuda":
        raise ValueError("sync_bn=True needs CUDA devices (SyncBatchNorm has no CPU kernel); "
                         "train without it on gloo/CPU")  # fmt: skip
    seed_everything(recipe.seed + ctx.rank, deterministic=deterministic)
    amp_dtype = resolve_amp(amp, dev)
    output_dir = Path(output_dir)
    manager = CheckpointManager(output_dir / "checkpoints", keep_last=keep_last)

    loader, sampler = build_train_loader(
        train, recipe, device=dev, cache_images=cache_images, num_workers=num_workers,
        num_replicas=ctx.world_size, rank=ctx.rank,
    )  # fmt: skip
    generator = torch.Generator(device=dev)
    augment = recipe.build_augment(generator)
    plain = unwrap_model(model)
    channels_last = dev.type == "cuda"
    plain.to(dev)
    if channels_last:
        plain.to(memory_format=torch.channels_last)
    criterion.to(dev)
    if sync_bn and ctx.distributed:
        plain = nn.SyncBatchNorm.convert_sync_batchnorm(plain)
    optimizer = build_optimizer(plain, recipe)
    scaler = grad_scaler(dev, amp_dtype)
    net: nn.Module = plain
    if compile:
        # torch.compile(module) returns an nn.Module (OptimizedModule); its stubs say Callable.
        net = torch.compile(net)  # type: ignore[assignment]
    if ctx.distributed:
        # A model that routes images by modality (AGW's stems) may leave a branch unused in a
        # batch without that modality; DDP must then look for unused parameters.
        net = nn.parallel.DistributedDataParallel(
            net,
            device_ids=[dev.index] if dev.type == "cuda" else None,
            find_unused_parameters=find_unused_parameters
            or bool(getattr(plain, "routes_by_modality", False)),
        )

    start_epoch, global_step = 0, 0
    best_epoch, best_score = 0, None
    history: list[dict[str, Any]] = []
    train_seconds, images_seen = 0.0, 0
    if resume is not None:
        resume_path = Path(resume)
        # On the CPU: RNG states must stay CPU tensors; load_state_dict moves the rest.
        state = load_checkpoint(resume_path, map_location="cpu")
        _check_resume(state, recipe, num_classes, resume_path)
        plain.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        for group in optimizer.param_groups:  # the schedule is recomputed from base_lr
            group.setdefault("base_lr", group["lr"])
        if scaler is not None and state.get("scaler") is not None:
            scaler.load_state_dict(state["scaler"])
        start_epoch, global_step = int(state["epoch"]), int(state["global_step"])
        best_epoch, best_score = int(state["best_epoch"]), state["best_score"]
        history = list(state.get("history", []))
        train_seconds, images_seen = float(state["train_seconds"]), int(state["images_seen"])
        set_rng_state(state["rng"])

    log = RunLog(output_dir, tensorboard=tensorboard) if ctx.is_main else None
    if log is not None:
        log.write("start", global_step, recipe=recipe.to_dict(), device=str(dev),
                  world_size=ctx.world_size, amp=str(amp_dtype), resumed_from=str(resume)
                  if resume else None, versions=versions())  # fmt: skip
    epochs_this_call = 0
    try:
        for epoch in range(start_epoch, recipe.epochs):
            if stop_after is not None and epochs_this_call >= stop_after:
                break
            sampler.set_epoch(epoch)
            # Every random stream of an epoch starts from (seed, rank, epoch), so a resumed run
            # — single-process or distributed — draws exactly what an uninterrupted one would.
            epoch_seed = _epoch_generator_seed(recipe.seed, ctx.rank, epoch)
            generator.manual_seed(epoch_seed)
            seed_everything(epoch_seed, deterministic=deterministic)
            net.train()
            stats = train_one_epoch(
                net, criterion, optimizer, loader, augment, recipe, epoch=epoch, device=dev,
                amp_dtype=amp_dtype, scaler=scaler, channels_last=channels_last,
                global_step=global_step, max_steps=max_steps_per_epoch, log=log,
                log_every=log_every, progress=progress and ctx.is_main,
            )  # fmt: skip
            global_step = stats.global_step
            train_seconds += stats.seconds
            images_seen += stats.images * ctx.world_size
            epochs_this_call += 1
            done = epoch + 1
            if log is not None:
                log.write("epoch", global_step, epoch=done, seconds=stats.seconds,
                          images_per_second=stats.images_per_second * ctx.world_size,
                          **stats.losses)  # fmt: skip
            is_best = recipe.selection == "last"
            if recipe.selection == "val" and _should_validate(recipe, done):
                _sync_buffers(plain, ctx)  # every rank scores the weights that will be saved
                assert validation is not None
                extractor = FeatureExtractor(plain, recipe.image_size, device=dev, amp=amp)
                metrics = evaluate_validation(extractor, validation)
                score = validation_score(metrics, recipe.select_metric)
                record = {"epoch": done, "mAP": metrics.mAP, "rank1": metrics.rank(1),
                          "mINP": metrics.mINP, "score": score}  # fmt: skip
                history.append(record)
                if best_score is None or score > best_score:
                    best_epoch, best_score, is_best = done, score, True
                if log is not None:
                    log.write("eval", global_step, split="validation", best_epoch=best_epoch,
                              **record)  # fmt: skip
                if ctx.is_main:
                    tqdm.write(
                        f"validation after epoch {done}: mAP {100 * metrics.mAP:.2f}  R1 "
                        f"{100 * metrics.rank(1):.2f}  mINP {100 * metrics.mINP:.2f}"
                        f"{'  (best so far)' if is_best else ''}"
                    )
            if is_best and recipe.selection == "last":
                best_epoch = done
            _sync_buffers(plain, ctx)
            _check_state_finite(plain, done, ctx)
            if ctx.is_main:
                manager.save(
                    {
                        "format": CHECKPOINT_FORMAT,
                        "method": recipe.method,
                        "recipe": recipe.to_dict(),
                        "num_classes": num_classes,
                        "model": plain.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scaler": scaler.state_dict() if scaler is not None else None,
                        "epoch": done,
                        "global_step": global_step,
                        "best_epoch": best_epoch,
                        "best_score": best_score,
                        "history": history,
                        "train_seconds": train_seconds,
                        "images_seen": images_seen,
                        "rng": get_rng_state(),
                        "versions": versions(),
                    },
                    done,
                    is_best=is_best,
                )
            ctx.barrier()
    finally:
        if log is not None:
            log.close()
    finished_epochs = start_epoch + epochs_this_call
    if best_epoch == 0 and finished_epochs:
        warnings.warn("no epoch was validated, so best.pt was not written", stacklevel=2)
    return FitResult(
        best_epoch=best_epoch,
        best_score=best_score,
        epochs_done=finished_epochs,
        train_seconds=train_seconds,
        images_per_second=images_seen / train_seconds if train_seconds > 0 else 0.0,
        output_dir=output_dir,
        last_checkpoint=manager.last,
        best_checkpoint=manager.best,
        history=history,
        finished=finished_epochs >= recipe.epochs,
    )


def _sync_buffers(model: nn.Module, ctx: DistributedContext) -> None:
    """Give every rank rank 0's buffers (BN running statistics drift apart under DDP)."""
    if not ctx.distributed:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)


def _check_state_finite(model: nn.Module, epoch: int, ctx: DistributedContext) -> None:
    """Raise on every rank if a parameter or a floating buffer is NaN or infinite."""
    tensors = [p.detach() for p in model.parameters()]
    tensors += [b for b in model.buffers() if b.is_floating_point()]
    flags = [t.isfinite().all() for t in tensors]
    ok = torch.stack(flags).all() if flags else torch.tensor(True, device=ctx.device)
    if ctx.distributed:
        flag = ok.to(torch.int32)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        ok = flag.bool()
    if not bool(ok):
        raise NonFiniteLossError(
            f"a model parameter or BN statistic is NaN or infinite after epoch {epoch}; no "
            "checkpoint was written from this state"
        )
