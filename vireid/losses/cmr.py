"""Cross-Modality Retrieval (CMR) loss of MCJA.

Liang et al., "Bridging the Gap: Multi-level Cross-modality Joint Alignment for Visible-infrared
Person Re-identification" (MCJA), IEEE TCSVT 2024: the cross-modality retrieval loss of its
method section, in the form of the authors' released code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vireid.losses._checks import (
    check_features,
    check_labels,
    check_modalities,
    compute_dtype,
    full_precision,
    warn_once,
    zero_loss,
)
from vireid.ops.permutahedron import Backend, soft_rank

__all__ = ["CMRLoss", "cmr_loss"]


def cmr_loss(
    features: torch.Tensor,
    labels: torch.Tensor,
    modalities: torch.Tensor,
    regularization_strength: float = 0.5,
    fast_path: bool = True,
    backend: Backend = "auto",
) -> torch.Tensor:
    r"""MCJA's cross-modality retrieval loss: soft ranks of a cross-modality search vs ideal ranks.

    For each modality ``a`` in the batch, its samples are queries and every sample of another
    modality is the gallery (``g`` items). With cosine distances
    ``d_ij = (1 − cos(f_i, f_j)) / 2 ∈ [0, 1]``, soft ranks ``r_i = soft_rank_ε(d_i·)``
    ("l2", ε = 0.5, ascending) and targets ``t_ij = 1`` for a positive (same identity) and
    ``t_ij = g`` for a negative:

    $$
    L_a = \operatorname{mean}_{\text{kept } i}\ \operatorname{mean}_{j \in G_a}
        \lvert r_{ij} - t_{ij} \rvert, \qquad
    \mathrm{CMR} = \operatorname{mean}_{\text{valid } a} L_a
    $$

    A query is kept when its gallery holds at least one positive and one negative; a modality
    is valid when it keeps a query.

    **Fast path (exact).** With ``d ∈ [0, 1]``, every row with ``g ≥ 4/ε`` (``g ≥ 8`` at the default
    ε) is a single pool-adjacent-violators block, so the soft rank is the affine map
    ``r_ij = (g + 1)/2 + (d_ij − d̄_i)/ε``. ``fast_path=True`` uses it for such modalities — same
    values and gradients as the projection, without the sort — and
    [`vireid.ops.soft_rank`][vireid.ops.soft_rank] otherwise. A consequence worth knowing: in this
    regime CMR is ``(g − 1)/2`` plus a weighted contrast of mean positive and mean negative
    distance, so its value depends on the batch's modality mix.

    Differences to the released MCJA code (none change the value on batches where it works):
    the pairing and the gallery are built from ``labels``/``modalities`` (any sample order);
    distances come from one matrix product of normalised features (the reference broadcasts a
    ``q × g × D`` tensor); a batch with one modality or no valid query returns a zero loss on
    the graph with a one-time warning (the reference crashes).

    Args:
        features: ``(B, D)`` features (MCJA: the BN-neck output). Computed in float32 under
            autocast; float64 stays float64.
        labels: ``(B,)`` integer identity labels.
        modalities: ``(B,)`` integer modality labels (0 visible, 1 infrared; any integers —
            the gallery of a modality pools all other values).
        regularization_strength: soft-rank ε; default 0.5 (MCJA).
        fast_path: use the exact closed form where it applies; default True.
        backend: soft-rank backend for rows outside the fast path (see
            [`vireid.ops.soft_rank`][vireid.ops.soft_rank]).

    Returns:
        Scalar loss.

    Raises:
        TypeError, ValueError: bad shapes, dtypes or devices, or a non-positive ε.
    """
    features = check_features(features)
    n = features.shape[0]
    labels = check_labels(labels, "labels", n, features.device)
    modalities = check_modalities(modalities, n, features.device)
    if isinstance(regularization_strength, bool) or not isinstance(
        regularization_strength, (int, float)
    ):
        raise TypeError(
            f"regularization_strength must be a positive number, "
            f"got {type(regularization_strength).__name__}"
        )
    if not 0 < regularization_strength < float("inf"):
        raise ValueError(
            f"regularization_strength must be positive and finite, got {regularization_strength}"
        )
    eps = float(regularization_strength)
    with full_precision(features.device):
        f = F.normalize(features.to(compute_dtype(features)), dim=1, eps=1e-8)
        dist = (1 - f @ f.t()) / 2
        same_id = labels[:, None] == labels[None, :]
        terms = []
        for a in torch.unique(modalities).tolist():
            rows = modalities == a
            d = dist[rows][:, ~rows]
            g = d.shape[1]
            if g == 0:
                continue
            pos = same_id[rows][:, ~rows]
            num_pos = pos.sum(1)
            keep = (num_pos > 0) & (num_pos < g)
            if fast_path and g >= 4.0 / eps:
                ranks = (g + 1) / 2 + (d - d.mean(1, keepdim=True)) / eps
            else:
                ranks = soft_rank(d, "l2", eps, backend=backend)
            target = torch.where(pos, 1.0, float(g)).to(d.dtype)
            row_loss = (ranks - target).abs().mean(1)
            kept = keep.sum()
            terms.append((torch.where(keep, row_loss, 0.0).sum() / kept.clamp_min(1), kept > 0))
        if terms:
            values = torch.stack([t for t, _ in terms])
            valid = torch.stack([v for _, v in terms])
            num_valid = valid.sum()
            if bool(num_valid > 0):
                return torch.where(valid, values, 0.0).sum() / num_valid
        warn_once(
            "cmr_no_valid_query",
            "cmr_loss: no query has both a cross-modality positive and a negative in this batch "
            "(one modality only, or identities not shared across modalities); returning 0. "
            "Use a cross-modality P x K sampler such as vireid.data.CrossModalityIdentitySampler.",
        )
        return zero_loss(features)


class CMRLoss(nn.Module):
    """Module form of `cmr_loss` (MCJA cross-modality retrieval loss).

    Args:
        regularization_strength: soft-rank ε; default 0.5 (MCJA).
        fast_path: use the exact single-block closed form where it applies; default True.
        backend: soft-rank backend: ``"auto"``, ``"torch"`` or ``"torchsort"``.

    Example:
        >>> criterion = CMRLoss()
        >>> loss = criterion(features, labels, modalities)  # doctest: +SKIP
    """

    def __init__(
        self,
        regularization_strength: float = 0.5,
        fast_path: bool = True,
        backend: Backend = "auto",
    ) -> None:
        super().__init__()
        self.regularization_strength = regularization_strength
        self.fast_path = fast_path
        self.backend: Backend = backend

    def forward(
        self, features: torch.Tensor, labels: torch.Tensor, modalities: torch.Tensor
    ) -> torch.Tensor:
        """Loss of one batch; see `cmr_loss`."""
        return cmr_loss(
            features,
            labels,
            modalities,
            self.regularization_strength,
            fast_path=self.fast_path,
            backend=self.backend,
        )

    def extra_repr(self) -> str:
        """Hyper-parameters shown by ``print(module)``."""
        return f"regularization_strength={self.regularization_strength}, fast_path={self.fast_path}"
