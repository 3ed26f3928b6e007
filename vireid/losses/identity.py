r"""Identity (classification) loss: cross-entropy with optional label smoothing.

Equation, for logits $z_i \in \mathbb{R}^C$ and label $y_i$:

$$
q_{ic} = (1 - \varepsilon)\,[c = y_i] + \varepsilon / C, \qquad
L = -\frac{1}{B} \sum_i \sum_c q_{ic} \log \operatorname{softmax}(z_i)_c .
$$

``epsilon = 0`` is plain softmax cross-entropy. This is the label-smoothing regulariser of
Szegedy et al., "Rethinking the Inception Architecture for Computer Vision" (CVPR 2016), in the
form used by the single-modality AGW/BoT code (the smoothing mass ε is spread over all C classes,
the true one included).

Which value the VI-ReID references use: AGW's cross-modality baseline, CAJ, IDKL and MCJA all
train with **plain** cross-entropy (ε = 0). The default ε = 0.1 is the common ReID choice
(BoT/AGW single-modality); pass ``epsilon=0.0`` to reproduce those cross-modality releases.
"""

from __future__ import annotations

import torch
from torch import nn

from vireid.losses._checks import (
    check_features,
    check_label_range,
    check_labels,
    compute_dtype,
    full_precision,
)

__all__ = ["CrossEntropyLabelSmooth", "cross_entropy_label_smooth"]


def _check_epsilon(epsilon: float) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)):
        raise TypeError(f"epsilon must be a float in [0, 1], got {type(epsilon).__name__}")
    if not 0.0 <= float(epsilon) <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    return float(epsilon)


def cross_entropy_label_smooth(
    logits: torch.Tensor, labels: torch.Tensor, epsilon: float = 0.1
) -> torch.Tensor:
    r"""Label-smoothed softmax cross-entropy, averaged over the batch.

    $$
    L = \frac{1}{B}\sum_i \Big[(1-\varepsilon)\,(-\log p_{i,y_i})
        + \varepsilon \cdot \frac{1}{C}\sum_c (-\log p_{ic})\Big],
    \quad p_i = \operatorname{softmax}(z_i).
    $$

    Equal to ``torch.nn.functional.cross_entropy(logits, labels, label_smoothing=epsilon)``
    (the same target distribution), written out so that the computation runs in float32 under
    autocast and float64 inputs stay float64.

    Args:
        logits: Class scores, shape ``(B, C)``, any floating dtype.
        labels: Integer identity labels in ``[0, C)``, shape ``(B,)``, on the logits' device.
            On CPU an out-of-range label is a ``ValueError`` naming it and ``C``; on an
            accelerator the range is not read back (that would cost a host sync per step), so
            check labels before the copy, as the training engine does.
        epsilon: Smoothing mass ε in ``[0, 1]``. Default ``0.1``; ``0`` is plain cross-entropy
            (what the AGW cross-modality baseline, CAJ, IDKL and MCJA use).

    Returns:
        Scalar loss, float32 (float64 for float64 logits).

    Raises:
        TypeError: non-tensor or non-floating logits, non-integer labels, bad ``epsilon`` type.
        ValueError: wrong shapes, mismatched batch sizes or devices, ε outside ``[0, 1]``.
    """
    logits = check_features(logits, "logits")
    labels = check_labels(labels, "labels", logits.shape[0], logits.device)
    eps = _check_epsilon(epsilon)
    if labels.device.type == "cpu":
        check_label_range(labels, logits.shape[1], "labels")
    with full_precision(logits.device):
        z = logits.to(compute_dtype(logits))
        logp = torch.log_softmax(z, dim=1)
        nll = -logp.gather(1, labels[:, None]).squeeze(1)
        if eps == 0.0:
            return nll.mean()
        smooth = -logp.mean(dim=1)
        return ((1.0 - eps) * nll + eps * smooth).mean()


class CrossEntropyLabelSmooth(nn.Module):
    r"""Label-smoothed cross-entropy identity loss (module form of `cross_entropy_label_smooth`).

    Target distribution $q = (1-\varepsilon)\,\text{onehot}(y) + \varepsilon/C$;
    loss $-\frac{1}{B}\sum_i \sum_c q_{ic}\log\operatorname{softmax}(z_i)_c$.

    Args:
        epsilon: Smoothing mass ε in ``[0, 1]``. Default ``0.1``. ``0.0`` gives plain
            cross-entropy, which is what the AGW cross-modality baseline, CAJ, IDKL and MCJA
            train with.

    Shape:
        ``forward(logits, labels)``: logits ``(B, C)``, labels ``(B,)`` integers; returns a
        scalar.

    Example:
        >>> crit = CrossEntropyLabelSmooth(epsilon=0.1)
        >>> loss = crit(torch.randn(4, 10), torch.tensor([0, 1, 2, 3]))
    """

    def __init__(self, epsilon: float = 0.1) -> None:
        super().__init__()
        self.epsilon = _check_epsilon(epsilon)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Return the scalar loss for ``logits`` ``(B, C)`` and integer ``labels`` ``(B,)``."""
        return cross_entropy_label_smooth(logits, labels, self.epsilon)

    def extra_repr(self) -> str:
        """Options shown in the module's repr."""
        return f"epsilon={self.epsilon}"
