"""Modality classifier: IDKL's MLP head, as a discriminator or (behind a GRL) a confuser.

The architecture is that of the released IDKL code (Ren & Zhang, CVPR 2024); the paper does not
describe one.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from vireid.nn._checks import check_batch_statistics, check_float_tensor, to_parameter_dtype
from vireid.nn.gradient_reversal import AlphaSchedule, GradientReversal

__all__ = ["ModalityClassifier"]


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return int(value)


class ModalityClassifier(nn.Module):
    """A three-layer MLP that predicts the modality of a feature vector.

    ```text
    x ─► [GRL] ─► Linear(D→h) ─► BN ─► ReLU ─► Dropout
               ─► Linear(h→h) ─► BN ─► ReLU ─► Dropout ─► Linear(h→M) ─► logits
    ```

    This is the head of IDKL's reference code (Ren & Zhang, CVPR 2024):
    ``D = 2048``, ``h = 100``, ``M = 2`` modalities, dropout 0.5, biases on every linear layer.

    * ``reverse_grad=False`` — the **modality discriminator** ``D`` of the specific branch:
      cross-entropy against the true modality labels, minimised by head and backbone alike,
      so the specific features keep modality information.
    * ``reverse_grad=True`` — the **modality confuser** ``C`` of the shared branch (paper Eq. 3): a
      [`GradientReversal`][vireid.nn.GradientReversal] in front, so the head learns to tell the
      modalities apart while the gradient reaching the backbone pushes the other way. The IDKL
      *code* trains its confuser without a GRL, against balanced pseudo-labels instead; that variant
      is a loss-side choice and uses ``reverse_grad=False``.

    In IDKL both heads read the post-BN-neck features (``g_sh`` and ``g_sp``).

    Args:
        in_dim: Feature dimension ``D``. Default 2048.
        hidden: Width ``h`` of the two hidden layers. Default 100.
        num_modalities: Number of output classes ``M``. Default 2 (visible, infrared).
        dropout: Dropout probability after each hidden layer, in ``[0, 1)``. Default 0.5;
            active in training mode only.
        reverse_grad: Put a gradient reversal layer in front (confuser). Default ``False``.
        alpha: Reversal strength or schedule for the GRL (see
            `GradientReversal`); ignored when ``reverse_grad=False``.
            Default 1.0.

    Shape:
        - Input: ``(B, D)``. In training mode ``B ≥ 2`` (batch normalisation).
        - Output: ``(B, M)`` logits, in the input's dtype and device.

    State dict keys (pinned by the tests): ``fc1.*``, ``bn1.*``, ``fc2.*``, ``bn2.*``,
    ``fc3.*``; the GRL holds no state, so a confuser and a discriminator load each other's
    checkpoints.
    """

    in_dim: int
    reverse_grad: bool
    grl: GradientReversal | None
    fc1: nn.Linear
    bn1: nn.BatchNorm1d
    fc2: nn.Linear
    bn2: nn.BatchNorm1d
    fc3: nn.Linear
    act: nn.ReLU
    drop: nn.Dropout

    def __init__(
        self,
        in_dim: int = 2048,
        hidden: int = 100,
        num_modalities: int = 2,
        dropout: float = 0.5,
        reverse_grad: bool = False,
        alpha: float | AlphaSchedule = 1.0,
    ) -> None:
        super().__init__()
        in_dim = _positive_int(in_dim, "in_dim")
        hidden = _positive_int(hidden, "hidden")
        num_modalities = _positive_int(num_modalities, "num_modalities")
        if num_modalities < 2:
            raise ValueError(f"num_modalities must be at least 2, got {num_modalities}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real):
            raise TypeError(f"dropout must be a float, got {type(dropout).__name__}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.in_dim = in_dim
        self.reverse_grad = bool(reverse_grad)
        self.grl = GradientReversal(alpha) if self.reverse_grad else None
        self.fc1 = nn.Linear(in_dim, hidden)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.bn2 = nn.BatchNorm1d(hidden)
        self.fc3 = nn.Linear(hidden, num_modalities)
        self.act = nn.ReLU(inplace=True)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Modality logits ``(B, M)`` for features ``x`` of shape ``(B, D)``.

        Raises:
            TypeError: If ``x`` is not a floating-point tensor.
            ValueError: If ``x`` is not ``(B, in_dim)`` with ``B ≥ 1``.
        """
        x = check_float_tensor(x)
        if x.dim() != 2 or x.shape[1] != self.in_dim or x.shape[0] == 0:
            raise ValueError(
                f"x must have shape (B, {self.in_dim}) with B >= 1, got {tuple(x.shape)}"
            )
        check_batch_statistics(x, self)
        dtype = x.dtype
        x = to_parameter_dtype(x, self)
        if self.grl is not None:
            x = self.grl(x)
        x = self.drop(self.act(self.bn1(self.fc1(x))))
        x = self.drop(self.act(self.bn2(self.fc2(x))))
        return self.fc3(x).to(dtype)

    def extra_repr(self) -> str:
        """Settings shown in ``repr(module)``."""
        return f"reverse_grad={self.reverse_grad}"
