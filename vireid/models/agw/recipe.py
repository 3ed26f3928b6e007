"""AGW training recipes: the released code's settings, and a CPU demo."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from torch import nn

from vireid._choices import one_of
from vireid.models.agw.criterion import AGWLoss
from vireid.models.agw.model import AGW
from vireid.models.recipe import DEMO_BUDGET, Recipe

__all__ = ["AGWRecipe"]

# SYSU-MM01 and RegDB share every setting in the released code.
_REFERENCE = {
    "image_size": (288, 144),
    "augment": "agw",
    "sampler": "agw_pk",
    "ids_per_batch": 8,
    "num_instances": 4,
    "arch": "resnet50",
    "width": 64,
    "pretrained": "imagenet",
    "last_stride": 1,
    "optimizer": "sgd",
    "lr": 0.01,
    "head_lr": 0.1,
    "weight_decay": 5e-4,
    "momentum": 0.9,
    "nesterov": True,
    "epochs": 81,
    "warmup_epochs": 10,
    "warmup_granularity": "epoch",
    "schedule": "multistep",
    "milestones": (20, 50),
    "gamma": 0.1,
    "eval_interval": 2,
    "eval_start": 0,
    "seed": 0,
}

# The shared CPU demo budget; WRT mined across modalities, as MCJA's demo triplet.
_DEMO = {**DEMO_BUDGET, "cross_modality_mining": True}


@dataclass(frozen=True)
class AGWRecipe(Recipe):
    """A `Recipe` for `AGW` with `AGWLoss` (Ye et al., IEEE TPAMI 2021).

    Presets (`AGWRecipe.preset(name, dataset)`):

    | setting | ``reference`` (SYSU-MM01 and RegDB) | ``demo`` (SYSU-like, CPU) |
    |---|---|---|
    | input | 288×144, pad 10 + crop, flip | 128×64, the same |
    | sampler | ``agw_pk`` 8×(4+4) | same |
    | backbone | ResNet-50, ImageNet, last stride 1 | ResNet-18 width 32, scratch, last stride 1 |
    | network | two stems, non-local (C′ = 1), GeM | same |
    | optimiser | SGD 0.9 Nesterov, wd 5e-4; LR 0.01 backbone, 0.1 head | Adam 2e-3, wd 5e-4 |
    | schedule | warm-up (e+1)/10 to epoch 10; ×0.1 at 20, 50; 81 epochs | warm-up 3, cosine, 36 |
    | augmentation | pad + crop, flip | MCJA's, every visible image through VIMC |
    | losses | CE + WRT (1, 1), mined over the batch | same, mined across modalities |
    | evaluation | every 2 epochs | every 6 epochs from 12 |

    The released code selects the best checkpoint on the test set (trial-0 gallery); here
    ``selection="val"`` selects on held-out validation identities.

    Attributes:
        non_local: Insert the non-local blocks.
        inter_channels: ``"reference"`` (C′ = 1) or ``"half"`` (C′ = C // 2).
        gem: GeM pooling (else average pooling).
        metric_loss: ``"wrt"`` (AGW), ``"triplet"`` (the code's ``--method base``) or ``"adp"``
            (CAJ's adaptive triplet with α = γ = 1; `CAJRecipe` sets its parameters).
        margin: Margin of the batch-hard triplet.
        id_weight: Weight of the identity cross-entropy.
        metric_weight: Weight of the metric loss.
        label_smoothing: Label smoothing of the identity loss (0 in the released code).
        cross_modality_mining: Take the metric loss's positives and negatives from the other
            modality only (``False`` in the released code, ``True`` in ``demo``).
    """

    method: ClassVar[str] = "agw"

    head_lr: float | None = 0.1
    epochs: int = 81
    warmup_epochs: int = 10
    milestones: tuple[int, ...] = (20, 50)
    eval_interval: int = 2
    non_local: bool = True
    inter_channels: str = "reference"
    gem: bool = True
    metric_loss: str = "wrt"
    margin: float = 0.3
    id_weight: float = 1.0
    metric_weight: float = 1.0
    label_smoothing: float = 0.0
    cross_modality_mining: bool = False

    @classmethod
    def _choices(cls) -> dict[str, tuple[object, ...]]:
        return {"inter_channels": ("reference", "half"), "metric_loss": ("wrt", "triplet", "adp")}

    @classmethod
    def presets(cls) -> dict[str, tuple[str, ...]]:
        """``reference`` (SYSU-MM01, RegDB) and ``demo`` (synthetic data of all three layouts)."""
        return {"reference": ("sysu", "regdb"), "demo": ("sysu", "regdb", "llcm")}

    @classmethod
    def _preset_values(cls, name: str, dataset: str) -> dict[str, Any]:
        return dict(_REFERENCE if name == "reference" else _DEMO)

    def _make_model(self, num_classes: int) -> nn.Module:
        """`AGW` with this recipe's backbone and network settings."""
        inter: Literal["reference", "half"] = one_of(
            self.inter_channels, ("reference", "half"), "inter_channels"
        )
        return AGW(
            num_classes,
            arch=self.arch,
            pretrained=self.pretrained,
            last_stride=self.last_stride,
            non_local=self.non_local,
            inter_channels=inter,
            gem=self.gem,
            width=self.width,
        )

    def build_criterion(self) -> nn.Module:
        """`AGWLoss` with this recipe's weights."""
        return AGWLoss(
            self.id_weight,
            self.metric_weight,
            metric=one_of(self.metric_loss, ("wrt", "triplet", "adp"), "metric_loss"),
            margin=self.margin,
            label_smoothing=self.label_smoothing,
            cross_modality_only=self.cross_modality_mining,
        )
