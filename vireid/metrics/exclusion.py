"""Gallery exclusion rules: which gallery items a query must not be ranked against.

A rule gives a boolean ``(Q, G)`` mask where ``True`` removes the gallery item from that query's
ranking *before* CMC, AP and INP are computed, as in every reference evaluator.

* ``"sysu"``: a query from camera 3 drops **every** gallery item from camera 2, whatever its
  identity (cameras 2 and 3 share a location). This is the rule of the official Matlab code,
  the AGW/CAJ ``eval_sysu`` and the MPANet lineage alike.
* ``"same_id_same_camera"``: drop gallery items with the query's identity *and* camera
  (Market-1501 rule; the DEEN ``eval_llcm`` rule, where LLCM camera numbers are shared by the
  visible and near-infrared images).
* ``"same_camera"``: drop every gallery item from the query's camera.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["EXCLUSION_RULES", "ExclusionFn", "exclusion_mask"]

EXCLUSION_RULES: tuple[str, ...] = ("sysu", "same_id_same_camera", "same_camera")
"""Names of the built-in exclusion rules."""

ExclusionFn = Callable[
    [torch.Tensor, torch.Tensor, "torch.Tensor | None", "torch.Tensor | None"], torch.Tensor
]
"""A custom exclusion rule.

``fn(query_ids, gallery_ids, query_cams, gallery_cams) -> (q, G) bool tensor``: it is called
once per block of queries with 1-D int64 tensors (the camera arguments are ``None`` when no
cameras were given) and must return ``True`` where an item is removed.
"""

_SYSU_QUERY_CAM = 3
_SYSU_GALLERY_CAM = 2


def _rule_mask(
    rule: str,
    q_ids: torch.Tensor,
    g_ids: torch.Tensor,
    q_cams: torch.Tensor,
    g_cams: torch.Tensor,
) -> torch.Tensor | None:
    """Mask of one named rule for a block of queries; ``None`` when nothing is removed."""
    if rule == "sysu":
        from_cam3 = q_cams == _SYSU_QUERY_CAM
        return from_cam3[:, None] & (g_cams == _SYSU_GALLERY_CAM)[None, :]
    same_cam = q_cams[:, None] == g_cams[None, :]
    if rule == "same_camera":
        return same_cam
    return same_cam & (q_ids[:, None] == g_ids[None, :])


def exclusion_mask(
    rule: str,
    query_ids: torch.Tensor,
    gallery_ids: torch.Tensor,
    query_cams: torch.Tensor,
    gallery_cams: torch.Tensor,
) -> torch.Tensor:
    """Full ``(Q, G)`` boolean mask of a named rule (``True`` = removed from the ranking).

    Args:
        rule: One of `EXCLUSION_RULES`.
        query_ids: ``(Q,)`` integer identities of the queries.
        gallery_ids: ``(G,)`` integer identities of the gallery items.
        query_cams: ``(Q,)`` integer camera ids of the queries.
        gallery_cams: ``(G,)`` integer camera ids of the gallery items.

    Returns:
        ``(Q, G)`` bool tensor on the inputs' device.

    Example:
        >>> import torch
        >>> exclusion_mask("sysu", torch.tensor([7]), torch.tensor([7, 5]),
        ...                torch.tensor([3]), torch.tensor([2, 1]))
        tensor([[ True, False]])
    """
    if rule not in EXCLUSION_RULES:
        raise ValueError(f"rule must be one of {EXCLUSION_RULES}, got {rule!r}")
    args = {
        "query_ids": query_ids,
        "gallery_ids": gallery_ids,
        "query_cams": query_cams,
        "gallery_cams": gallery_cams,
    }
    for name, value in args.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"{name} must be a 1-D integer torch.Tensor, got {type(value).__name__}"
            )
        if value.dim() != 1 or value.is_floating_point() or value.is_complex():
            raise ValueError(
                f"{name} must be a 1-D integer tensor, got shape {tuple(value.shape)} and dtype "
                f"{value.dtype}"
            )
    for ids, cams, side in (
        (query_ids, query_cams, "query"),
        (gallery_ids, gallery_cams, "gallery"),
    ):
        if ids.numel() != cams.numel():
            raise ValueError(
                f"{side}_ids has {ids.numel()} entries but {side}_cams has {cams.numel()}; "
                "they must match (one camera per item)"
            )
    devices = {v.device for v in args.values()}
    if len(devices) > 1:
        raise ValueError(f"all four tensors must be on one device, got {sorted(map(str, devices))}")
    mask = _rule_mask(rule, query_ids, gallery_ids, query_cams, gallery_cams)
    if mask is None:  # pragma: no cover - named rules always build a mask
        raise RuntimeError(f"rule {rule!r} built no mask")
    return mask


@dataclass(frozen=True)
class ResolvedExclusion:
    """An exclusion choice turned into something that yields one block of the mask at a time.

    Attributes:
        name: The rule as recorded in results: ``"none"``, a built-in rule name,
            ``"custom_mask"`` or ``"custom:<function name>"``.
    """

    name: str
    rule: str | None = None
    mask: torch.Tensor | None = None
    fn: ExclusionFn | None = None
    q_ids: torch.Tensor | None = None
    g_ids: torch.Tensor | None = None
    q_cams: torch.Tensor | None = None
    g_cams: torch.Tensor | None = None

    def block(self, start: int, stop: int, device: torch.device) -> torch.Tensor | None:
        """Removed items for queries ``start:stop`` as a ``(stop - start, G)`` bool tensor.

        Returns ``None`` when nothing is removed in the block.
        """
        if self.rule is not None:
            assert self.q_cams is not None and self.g_cams is not None
            assert self.q_ids is not None and self.g_ids is not None
            q_cams = self.q_cams[start:stop]
            if self.rule == "sysu" and not bool((q_cams == _SYSU_QUERY_CAM).any()):
                return None
            return _rule_mask(self.rule, self.q_ids[start:stop], self.g_ids, q_cams, self.g_cams)
        if self.mask is not None:
            return self.mask[start:stop].to(device, non_blocking=True)
        if self.fn is not None:
            assert self.q_ids is not None and self.g_ids is not None
            out = self.fn(
                self.q_ids[start:stop],
                self.g_ids,
                None if self.q_cams is None else self.q_cams[start:stop],
                self.g_cams,
            )
            expected = (stop - start, self.g_ids.numel())
            if not isinstance(out, torch.Tensor) or out.dtype != torch.bool:
                raise TypeError(
                    f"exclude callable {self.name!r} must return a bool tensor, got "
                    f"{type(out).__name__}"
                    + (f" of dtype {out.dtype}" if isinstance(out, torch.Tensor) else "")
                )
            if tuple(out.shape) != expected:
                raise ValueError(
                    f"exclude callable {self.name!r} must return shape {expected} for a block of "
                    f"{expected[0]} queries, got {tuple(out.shape)}"
                )
            return out.to(device)
        return None


def resolve_exclusion(
    exclude: str | torch.Tensor | np.ndarray | ExclusionFn | None,
    q_ids: torch.Tensor,
    g_ids: torch.Tensor,
    q_cams: torch.Tensor | None,
    g_cams: torch.Tensor | None,
) -> ResolvedExclusion:
    """Validate the ``exclude`` argument of the evaluator and prepare it for block use."""
    num_q, num_g = q_ids.numel(), g_ids.numel()
    if exclude is None or (isinstance(exclude, str) and exclude == "none"):
        return ResolvedExclusion(name="none")
    if isinstance(exclude, str):
        if exclude not in EXCLUSION_RULES:
            raise ValueError(
                f"exclude must be None, one of {EXCLUSION_RULES}, a bool (Q, G) mask or a "
                f"callable; got {exclude!r}"
            )
        if q_cams is None or g_cams is None:
            raise ValueError(
                f"exclude={exclude!r} needs camera ids: pass query_cams and gallery_cams"
            )
        return ResolvedExclusion(
            name=exclude, rule=exclude, q_ids=q_ids, g_ids=g_ids, q_cams=q_cams, g_cams=g_cams
        )
    if isinstance(exclude, (torch.Tensor, np.ndarray)):
        mask = torch.as_tensor(exclude)
        if mask.dtype != torch.bool:
            raise TypeError(f"an exclude mask must have dtype bool, got {mask.dtype}")
        if tuple(mask.shape) != (num_q, num_g):
            raise ValueError(
                f"an exclude mask must have shape (Q, G) = {(num_q, num_g)}, "
                f"got {tuple(mask.shape)}"
            )
        return ResolvedExclusion(name="custom_mask", mask=mask)
    if callable(exclude):
        name = getattr(exclude, "__name__", type(exclude).__name__)
        return ResolvedExclusion(
            name=f"custom:{name}",
            fn=exclude,
            q_ids=q_ids,
            g_ids=g_ids,
            q_cams=q_cams,
            g_cams=g_cams,
        )
    raise TypeError(
        f"exclude must be None, a rule name {EXCLUSION_RULES}, a bool (Q, G) mask or a callable; "
        f"got {type(exclude).__name__}"
    )
