"""Validation on held-out training identities: model selection that never looks at the test set."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from vireid.data.sample import INFRARED, VISIBLE, Sample

__all__ = ["ValidationSplit", "carve_identities", "hold_out_identities"]

_RULES = ("none", "sysu", "same_id_same_camera", "same_camera")


@dataclass(frozen=True)
class ValidationSplit:
    """Training samples without some identities, and a retrieval task on those identities.

    The reference codes pick their "best" checkpoint on the **test** set, which biases the
    numbers they report. A `ValidationSplit` holds identities out of training instead: the
    model is selected on them and the test set is scored once, at the end.

    Attributes:
        train: Training samples of the remaining identities, relabelled ``0..C-1`` in their
            previous label order.
        query: Every held-out image of the query modality (label ``-1``).
        gallery: Every held-out image of the other modality (label ``-1``).
        exclude: Exclusion rule for ranking
            ([`vireid.metrics.rank_metrics`][vireid.metrics.rank_metrics]), e.g. ``"sysu"``.
        held_out: The held-out identities (dataset pids), sorted.
        label_of: Dataset pid → new training label.
    """

    train: list[Sample]
    query: list[Sample]
    gallery: list[Sample]
    exclude: str
    held_out: tuple[int, ...]
    label_of: dict[int, int]

    @property
    def num_classes(self) -> int:
        """Number of training identities left."""
        return len(self.label_of)

    def __repr__(self) -> str:
        return (
            f"ValidationSplit(train={len(self.train)} images of {self.num_classes} ids, "
            f"held_out={len(self.held_out)} ids, query={len(self.query)}, "
            f"gallery={len(self.gallery)}, exclude={self.exclude!r})"
        )


def hold_out_identities(
    samples: Sequence[Sample],
    held_out: Iterable[int],
    *,
    query_modality: int = INFRARED,
    exclude: str = "none",
) -> ValidationSplit:
    """Split training ``samples`` into a smaller training set and a validation retrieval task.

    Args:
        samples: Training samples with labels ``>= 0`` (e.g. ``SYSUMM01(root).train``).
        held_out: Dataset pids to hold out; each must occur in ``samples``.
        query_modality: ``INFRARED`` (default; the SYSU-MM01 direction) or ``VISIBLE``.
        exclude: Exclusion rule of the validation ranking: ``"none"``, ``"sysu"``,
            ``"same_id_same_camera"`` or ``"same_camera"``.

    Returns:
        A `ValidationSplit`.

    Raises:
        ValueError: an unknown pid, a held-out identity without images of both modalities,
            every identity held out, a bad modality or rule.
    """
    if query_modality not in (VISIBLE, INFRARED):
        raise ValueError(f"query_modality must be VISIBLE (0) or INFRARED (1), got "
                         f"{query_modality!r}")  # fmt: skip
    if exclude not in _RULES:
        raise ValueError(f"exclude must be one of {', '.join(map(repr, _RULES))}, got {exclude!r}")
    held = sorted({int(p) for p in held_out})
    present = {s.pid for s in samples}
    unknown = [p for p in held if p not in present]
    if unknown:
        raise ValueError(f"held_out names identities that are not in samples: {unknown[:10]}")
    keep = [s for s in samples if s.pid not in set(held)]
    if not keep:
        raise ValueError("held_out holds out every identity; nothing is left to train on")
    order = sorted({(s.label, s.pid) for s in keep})
    label_of = {pid: i for i, (_, pid) in enumerate(order)}
    train = [dataclasses.replace(s, label=label_of[s.pid]) for s in keep]
    held_set = set(held)
    query = [dataclasses.replace(s, label=-1) for s in samples
             if s.pid in held_set and s.modality == query_modality]  # fmt: skip
    gallery = [dataclasses.replace(s, label=-1) for s in samples
               if s.pid in held_set and s.modality != query_modality]  # fmt: skip
    one_sided = sorted(held_set - {s.pid for s in query} | (held_set - {s.pid for s in gallery}))
    if one_sided:
        raise ValueError(
            f"held-out identities need images of both modalities; these lack one: {one_sided[:10]}"
        )
    return ValidationSplit(train, query, gallery, exclude, tuple(held), label_of)


def carve_identities(
    samples: Sequence[Sample], fraction: float = 0.2, *, seed: int = 0
) -> tuple[int, ...]:
    """Draw a seeded fraction of the identities that have images of both modalities.

    For datasets without an official validation list (RegDB, LLCM): pass the result to
    `hold_out_identities`.

    Args:
        samples: Training samples.
        fraction: Share of the eligible identities to draw, in ``(0, 1)``; at least one is
            drawn and at least one is left.
        seed: Seed of the draw.

    Returns:
        The drawn pids, sorted.

    Raises:
        ValueError: ``fraction`` outside ``(0, 1)`` or fewer than two eligible identities.
    """
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    by_pid: dict[int, set[int]] = {}
    for s in samples:
        by_pid.setdefault(s.pid, set()).add(s.modality)
    eligible = sorted(p for p, mods in by_pid.items() if len(mods) == 2)
    if len(eligible) < 2:
        raise ValueError(
            f"need at least two identities with both modalities to carve a validation set, "
            f"got {len(eligible)}"
        )
    count = min(len(eligible) - 1, max(1, round(fraction * len(eligible))))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x7A1]))
    return tuple(sorted(int(p) for p in rng.choice(eligible, size=count, replace=False)))
