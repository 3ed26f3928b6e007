"""Data-parallel training with ``torchrun``: process-group set-up and feature gathering."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistributedContext", "all_gather_rows", "init_distributed"]


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in a (possibly single-process) run.

    Attributes:
        world_size: Number of processes (1 without ``torchrun``).
        rank: This process's global rank.
        local_rank: Its rank on this machine (selects the GPU).
        device: The device this process trains on.
    """

    world_size: int
    rank: int
    local_rank: int
    device: torch.device

    @property
    def distributed(self) -> bool:
        """Whether more than one process takes part."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes logs, checkpoints and results; the others only compute."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every process (no-op in a single process)."""
        if self.distributed:
            dist.barrier()


def _pick_device(device: str | torch.device, local_rank: int) -> torch.device:
    if str(device) == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                "device='cuda' was asked for but torch sees no CUDA device "
                f"(torch {torch.__version__}); pass --device cpu or install a CUDA build of torch"
            )
        if device.index is None:
            device = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    return device


def init_distributed(device: str | torch.device = "auto") -> DistributedContext:
    """Join the process group that ``torchrun`` describes, or run as a single process.

    ``torchrun --nproc_per_node N script.py`` sets ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``,
    ``MASTER_ADDR`` and ``MASTER_PORT``; this initialises the default group from them
    (``env://``) with NCCL on CUDA and gloo on the CPU, and gives each process the GPU of its
    local rank. Without those variables it returns a single-process context. Calling it again
    in an initialised process reuses the group.

    Args:
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:1"``.

    Returns:
        The `DistributedContext` of this process.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = _pick_device(device, local_rank)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, init_method="env://")
    if dist.is_initialized():
        world, rank = dist.get_world_size(), dist.get_rank()
    return DistributedContext(world, rank, local_rank, dev)


def all_gather_rows(rows: torch.Tensor, total: int) -> torch.Tensor:
    """Concatenate every rank's ``rows`` in rank order (rows may differ in number per rank).

    Each rank passes its shard ``(n_r, D)`` of a ``(total, D)`` result, shard ``r`` being rows
    ``r, r + W, r + 2W, …`` of the full order; the result is the full tensor in that order on
    every rank. Without a process group ``rows`` is returned unchanged.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return rows
    world = dist.get_world_size()
    size = -(-total // world)  # the largest shard
    padded = rows.new_zeros((size, *rows.shape[1:]))
    padded[: rows.shape[0]] = rows
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded.contiguous())
    # Shard r holds rows r, r+W, ...: interleave them back into the original order.
    out = torch.stack(parts, dim=1).reshape(size * world, *rows.shape[1:])
    return out[:total]
