"""Identity-balanced P×K batch samplers for visible-infrared training (AGW, MCJA and IDKL).

One class, `CrossModalityIdentitySampler`, covers the three sampling schemes found in the
reference code bases:

* ``"agw_pk"``: AGW / CAJ / DEEN (Ye et al., "Deep Learning for Person Re-identification: A
  Survey and Outlook", IEEE TPAMI 2021). P identities, K visible **and** K infrared images
  each, drawn with replacement.
* ``"pk_any"``: MCJA ``norm_triplet`` (Liang et al., "Bridging the Gap: Multi-level
  Cross-modality Joint Alignment for Visible-infrared Person Re-identification", IEEE TCSVT
  2024). P identities, K images each of any modality, consumed in chunks.
* ``"idkl_random"``: IDKL ``identity_random`` (Ren and Zhang, "Implicit Discriminative Knowledge
  Learning for Visible-Infrared Person Re-Identification", CVPR 2024), inherited from MPANet.
  P identities, K/2 infrared and K/2 visible images each, interleaved, consumed in chunks.

The reference implementations draw from NumPy's global RNG; here every epoch has its own
generator seeded from ``(seed, epoch)``, so the batches are reproducible but not bit-identical
to the reference runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal, TypeGuard

import numpy as np
import torch.distributed as dist
from torch.utils.data import Sampler

from vireid.data.sample import INFRARED, VISIBLE, Sample

__all__ = ["CrossModalityIdentitySampler"]

_VARIANTS = ("agw_pk", "pk_any", "idkl_random")
_MODALITY_NAMES = {VISIBLE: "visible", INFRARED: "infrared"}
# Error messages list at most this many offending labels, so a wrongly filtered dataset with
# hundreds of one-modality identities still gives a readable message.
_MAX_LISTED = 10


def _is_int(value: object) -> TypeGuard[int]:
    # NumPy integers count too: labels often come out of arrays.
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_int(name: str, value: object, minimum: int) -> int:
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        expected = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{name} must be {expected}, got {value}")
    return int(value)


def _list_labels(labels: Sequence[int]) -> str:
    shown = ", ".join(str(label) for label in labels[:_MAX_LISTED])
    if len(labels) > _MAX_LISTED:
        return f"[{shown}, …] ({len(labels)} in total)"
    return f"[{shown}]"


def _default_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


class CrossModalityIdentitySampler(Sampler[list[int]]):
    """P×K identity-balanced batch sampler for visible-infrared training sets.

    Use it as ``DataLoader(dataset, batch_sampler=sampler)``, where ``dataset[i]`` loads
    ``samples[i]``. Each yielded item is one batch: a list of indices into ``samples``. The
    identity of a sample is its training ``label``; P = ``ids_per_batch`` and
    K = ``num_instances``.

    **"agw_pk"** (default; the AGW code, Ye et al., TPAMI 2021). K is per modality, a batch holds
    2·P·K indices.

    1. ``n_batches = N // (P·K·num_replicas) + 1`` with N = max(#visible, #infrared), which is
       the AGW formula ``⌊N / (P·K)⌋ + 1`` on a single process (SYSU-MM01: 696).
    2. For each batch, draw P distinct labels uniformly without replacement; for each label in
       draw order, draw K visible and K infrared indices uniformly **with replacement** from
       that identity's images of that modality (duplicates are possible even when the
       identity has ≥ K images).
    3. Layout: the visible block (P groups of K, identity-major), then the infrared block with
       the same identity order. The label vector is therefore ``[visible labels, infrared
       labels]``, as in AGW.

    Every identity must have images of both modalities.

    **"pk_any"** (MCJA ``norm_triplet``, Liang et al., TCSVT 2024). K images per identity regardless
    of modality, a batch holds P·K indices.

    1. For each identity with n images: if n < K draw K indices with replacement (one chunk);
       else shuffle its indices, cut them into chunks of K and drop the remainder.
    2. While at least P identities still have chunks, draw P of them uniformly without
       replacement and take the next chunk of each. The chunks of the last fewer-than-P
       identities are discarded.

    Nothing guarantees both modalities in an identity's chunk.

    **"idkl_random"** (IDKL ``identity_random``, Ren & Zhang, CVPR 2024). K images per identity in
    total, K/2 per modality (K must be even), a batch holds P·K indices.

    1. For each identity, with infrared list I and visible list V: if both are shorter than
       K/2, draw K/2 of each with replacement; otherwise cut the longer list down to the length
       of the shorter by sampling without replacement.
    2. Shuffle both lists, zip them into (IR, VIS) pairs, and group every K/2 consecutive pairs
       into a chunk ordered ``IR, VIS, IR, VIS, …``; leftover pairs are dropped. An identity
       with fewer than K/2 images in one modality but not in both thus contributes no chunk.
    3. While at least P identities still have chunks, draw P distinct ones uniformly and take
       the next chunk of each.

    Outside the with-replacement rule, no index repeats within an epoch. The reference skips
    identities without infrared images; here every identity must have both modalities (an
    identity with one modality only would never be trained on, which is almost always a
    filtering mistake).

    **Randomness.** Each epoch uses its own ``numpy.random.Generator`` seeded from
    ``(seed, epoch)``; no global RNG state is read or changed. As with
    `torch.utils.data.distributed.DistributedSampler`, call `set_epoch` before each epoch,
    otherwise every epoch repeats the same batches.

    **Distributed training.** All ranks plan the same global epoch. Each global step draws
    P·num_replicas distinct identities (for the chunk variants: while at least that many
    identities have chunks) and rank r takes the r-th group of P, so in any step the ranks see
    disjoint identities and all ranks yield the same number of batches. With
    ``num_replicas=1`` this is exactly the single-process algorithm above.

    Args:
        samples: Training samples; ``samples[i].label`` is the identity (>= 0) and
            ``samples[i].modality`` is ``VISIBLE`` or ``INFRARED``.
        ids_per_batch: P, identities per batch (per rank). Default 8 (AGW).
        num_instances: K, images per identity: per modality for ``"agw_pk"``, in total for
            the other variants. Default 4 (AGW). MCJA uses P=8, K=16 (SYSU-MM01) and
            P=4, K=32 (RegDB); IDKL uses P=12, K=10 (SYSU-MM01, LLCM) and P=6, K=10 (RegDB).
        variant: ``"agw_pk"`` (default), ``"pk_any"`` or ``"idkl_random"``.
        seed: Non-negative base seed, shared by all ranks. Default 0.
        num_replicas: Number of distributed processes. Default: the world size of the
            initialised default process group, else 1.
        rank: This process's rank in ``[0, num_replicas)``. Default: the rank in the
            initialised default process group, else 0.

    Raises:
        TypeError: ``samples`` is not a sequence of samples, or an integer argument is not
            an int.
        ValueError: ``samples`` is empty or holds a label < 0 or an unknown modality;
            P, K or num_replicas is not positive; ``rank`` is outside ``[0, num_replicas)``;
            ``variant`` is unknown; K is odd for ``"idkl_random"``; an identity lacks a
            modality (``"agw_pk"``, ``"idkl_random"``); P·num_replicas exceeds the number of
            identities (or, for ``"idkl_random"``, of identities that can fill a chunk).

    Example:
        >>> from pathlib import Path
        >>> train = [
        ...     Sample(Path(f"{c}_{m}_{j}.jpg"), pid=c, cam=1 + 2 * m, modality=m, label=c)
        ...     for c in range(4) for m in (VISIBLE, INFRARED) for j in range(3)
        ... ]
        >>> sampler = CrossModalityIdentitySampler(train, ids_per_batch=2, num_instances=2)
        >>> len(sampler), sampler.batch_size  # 12 // (2 * 2) + 1 batches of 2·P·K indices
        (4, 8)
        >>> batch = next(iter(sampler))
        >>> [train[i].modality for i in batch]  # P·K visible, then P·K infrared
        [0, 0, 0, 0, 1, 1, 1, 1]

        In training, with ``dataset[i]`` loading ``train[i]``:

        ```python
        loader = DataLoader(dataset, batch_sampler=sampler, num_workers=4)
        for epoch in range(epochs):
            sampler.set_epoch(epoch)
            for images, labels in loader:
                ...
        ```
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        ids_per_batch: int = 8,
        num_instances: int = 4,
        variant: Literal["agw_pk", "pk_any", "idkl_random"] = "agw_pk",
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        super().__init__()
        if variant not in _VARIANTS:
            raise ValueError(
                f"variant must be one of {', '.join(map(repr, _VARIANTS))}, got {variant!r}"
            )
        self._variant: str = variant
        self._p = _check_int("ids_per_batch", ids_per_batch, 1)
        self._k = _check_int("num_instances", num_instances, 1)
        if variant == "idkl_random" and self._k % 2:
            raise ValueError(
                "num_instances must be even for variant='idkl_random' (K/2 images per "
                f"modality), got {self._k}"
            )
        self._seed = _check_int("seed", seed, 0)
        world, world_rank = _default_world()
        self._replicas = (
            world if num_replicas is None else _check_int("num_replicas", num_replicas, 1)
        )
        self._rank = world_rank if rank is None else _check_int("rank", rank, 0)
        if self._rank >= self._replicas:
            raise ValueError(
                f"rank must be in [0, num_replicas) = [0, {self._replicas}), got {self._rank}"
            )
        self._epoch = 0
        self._cache: tuple[int, np.ndarray] | None = None

        self._num_samples, self._by_label = self._group(samples)
        self._labels = np.array(sorted(self._by_label), dtype=np.int64)
        self._check_identities()

    # ------------------------------------------------------------------ construction checks

    @staticmethod
    def _group(samples: Sequence[Sample]) -> tuple[int, dict[int, tuple[np.ndarray, np.ndarray]]]:
        if isinstance(samples, (str, bytes)) or not (
            hasattr(samples, "__len__") and hasattr(samples, "__getitem__")
        ):
            raise TypeError(f"samples must be a sequence of Sample, got {type(samples).__name__}")
        if len(samples) == 0:
            raise ValueError("samples must not be empty; pass the training samples")
        lists: dict[int, tuple[list[int], list[int]]] = {}
        negative: list[int] = []
        for i, s in enumerate(samples):
            label = getattr(s, "label", None)
            modality = getattr(s, "modality", None)
            if not _is_int(label) or not _is_int(modality):
                raise TypeError(
                    f"samples must be a sequence of Sample (int label and modality); "
                    f"samples[{i}] is {s!r}"
                )
            if label < 0:
                negative.append(i)
                continue
            if modality not in _MODALITY_NAMES:
                raise ValueError(
                    f"samples[{i}].modality must be VISIBLE ({VISIBLE}) or INFRARED "
                    f"({INFRARED}), got {modality}"
                )
            lists.setdefault(int(label), ([], []))[int(modality)].append(i)
        if negative:
            raise ValueError(
                f"samples must have label >= 0 (pass training samples, whose labels are "
                f"0..C-1); {len(negative)} sample(s) have a negative label, the first is "
                f"samples[{negative[0]}] with label {samples[negative[0]].label}"
            )
        # Index arrays per modality, in sample order; VISIBLE = 0 and INFRARED = 1 index the
        # pair, so the tuples are (visible, infrared).
        grouped = {
            label: (np.array(vis, dtype=np.int64), np.array(ir, dtype=np.int64))
            for label, (vis, ir) in lists.items()
        }
        return len(samples), grouped

    def _check_identities(self) -> None:
        n_ids = len(self._labels)
        group = self._p * self._replicas
        if self._variant != "pk_any":
            for modality, name in _MODALITY_NAMES.items():
                missing = [int(c) for c in self._labels if len(self._by_label[c][modality]) == 0]
                if missing:
                    raise ValueError(
                        f"variant={self._variant!r} needs visible and infrared images for every "
                        f"identity; labels without {name} images: {_list_labels(missing)}. "
                        f"Filter these identities out or use variant='pk_any'"
                    )
        if group > n_ids:
            raise ValueError(
                f"ids_per_batch * num_replicas = {self._p} * {self._replicas} = {group} exceeds "
                f"the number of identities ({n_ids}); lower ids_per_batch or use fewer replicas"
            )
        if self._variant == "idkl_random":
            half = self._k // 2
            usable = 0
            for c in self._labels:
                n_vis, n_ir = (len(a) for a in self._by_label[c])
                if (n_vis < half and n_ir < half) or min(n_vis, n_ir) >= half:
                    usable += 1
            if group > usable:
                raise ValueError(
                    f"variant='idkl_random' with num_instances={self._k}: only {usable} of "
                    f"{n_ids} identities can fill a chunk (an identity with fewer than K/2 = "
                    f"{half} images in exactly one modality contributes none), fewer than "
                    f"ids_per_batch * num_replicas = {group}"
                )

    # ------------------------------------------------------------------ public API

    @property
    def variant(self) -> str:
        """The sampling scheme: ``"agw_pk"``, ``"pk_any"`` or ``"idkl_random"``."""
        return self._variant

    @property
    def ids_per_batch(self) -> int:
        """P, identities per batch."""
        return self._p

    @property
    def num_instances(self) -> int:
        """K, images per identity (per modality for ``"agw_pk"``)."""
        return self._k

    @property
    def batch_size(self) -> int:
        """Indices per batch: 2·P·K for ``"agw_pk"``, P·K otherwise."""
        return self._p * self._k * (2 if self._variant == "agw_pk" else 1)

    @property
    def num_replicas(self) -> int:
        """Number of distributed processes the epoch is split across."""
        return self._replicas

    @property
    def rank(self) -> int:
        """This process's rank."""
        return self._rank

    @property
    def seed(self) -> int:
        """Base seed shared by all ranks."""
        return self._seed

    @property
    def epoch(self) -> int:
        """The epoch whose batches `__iter__` yields."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch, which with ``seed`` determines the batches.

        Args:
            epoch: Non-negative epoch number; call this before each epoch with the same value
                on every rank.

        Raises:
            TypeError: ``epoch`` is not an int.
            ValueError: ``epoch`` is negative.
        """
        self._epoch = _check_int("epoch", epoch, 0)

    def __iter__(self) -> Iterator[list[int]]:
        # The plan is fixed when iteration starts, so a set_epoch during the epoch does not
        # change the batches already promised by __len__.
        return iter(self._plan(self._epoch).tolist())

    def __len__(self) -> int:
        if self._variant == "agw_pk":
            return self._agw_steps()
        return len(self._plan(self._epoch))

    # ------------------------------------------------------------------ planning

    def _plan(self, epoch: int) -> np.ndarray:
        """This rank's batches for ``epoch``, shape (n_batches, batch_size), cached."""
        if self._cache is None or self._cache[0] != epoch:
            rng = np.random.default_rng(np.random.SeedSequence([self._seed, epoch]))
            plan = self._plan_agw(rng) if self._variant == "agw_pk" else self._plan_chunks(rng)
            self._cache = (epoch, plan)
        return self._cache[1]

    def _agw_steps(self) -> int:
        n_vis = sum(len(v) for v, _ in self._by_label.values())
        n_max = max(n_vis, self._num_samples - n_vis)
        return n_max // (self._p * self._k * self._replicas) + 1

    def _plan_agw(self, rng: np.random.Generator) -> np.ndarray:
        p, k, steps = self._p, self._k, self._agw_steps()
        group = p * self._replicas
        n_ids = len(self._labels)
        chosen = np.stack([rng.choice(n_ids, size=group, replace=False) for _ in range(steps)])
        # Only this rank's identities need image draws: the identity draw above is what the
        # ranks must agree on.
        mine = chosen[:, self._rank * p : (self._rank + 1) * p]
        blocks = []
        for modality in (VISIBLE, INFRARED):
            lists = [self._by_label[int(c)][modality] for c in self._labels]
            counts = np.array([len(a) for a in lists], dtype=np.int64)
            starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
            flat = np.concatenate(lists)
            offsets = rng.integers(0, counts[mine][..., None], size=(steps, p, k))
            blocks.append(flat[starts[mine][..., None] + offsets].reshape(steps, p * k))
        return np.concatenate(blocks, axis=1)

    def _chunks(self, rng: np.random.Generator, label: int) -> np.ndarray:
        """One identity's chunks for this epoch, shape (n_chunks, K)."""
        vis, ir = self._by_label[label]
        k = self._k
        if self._variant == "pk_any":
            idx = np.concatenate((vis, ir))
            if len(idx) < k:
                return rng.choice(idx, size=k, replace=True)[None]
            n_chunks = len(idx) // k
            return rng.permutation(idx)[: n_chunks * k].reshape(n_chunks, k)
        half = k // 2
        if len(ir) < half and len(vis) < half:
            ir = rng.choice(ir, size=half, replace=True)
            vis = rng.choice(vis, size=half, replace=True)
        else:
            # A random prefix of a permutation is both the without-replacement cut and the
            # shuffle of the reference.
            m = min(len(ir), len(vis))
            ir, vis = rng.permutation(ir)[:m], rng.permutation(vis)[:m]
        n_chunks = len(ir) // half
        used = n_chunks * half
        return np.stack((ir[:used], vis[:used]), axis=1).reshape(n_chunks, k)

    def _plan_chunks(self, rng: np.random.Generator) -> np.ndarray:
        p, k = self._p, self._k
        group = p * self._replicas
        chunks = [self._chunks(rng, int(c)) for c in self._labels]
        remaining = np.array([len(c) for c in chunks], dtype=np.int64)
        used = np.zeros_like(remaining)
        lo, hi = self._rank * p, (self._rank + 1) * p
        batches = []
        while True:
            active = np.flatnonzero(used < remaining)
            if len(active) < group:
                break
            picked = rng.choice(active, size=group, replace=False)
            batches.append(np.concatenate([chunks[c][used[c]] for c in picked[lo:hi]]))
            used[picked] += 1
        if not batches:
            return np.empty((0, p * k), dtype=np.int64)
        return np.stack(batches)
