"""CAJ training recipes: the AGW network on CAJ's three streams with the ADP triplet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from vireid._choices import one_of
from vireid.augment import CAJStreams
from vireid.models.agw.criterion import AGWLoss
from vireid.models.agw.recipe import _DEMO as _AGW_DEMO
from vireid.models.agw.recipe import _REFERENCE as _AGW_REFERENCE
from vireid.models.agw.recipe import AGWRecipe

__all__ = ["CAJRecipe"]

# The released ICCV21_CAJ folder: AGW's optimiser and schedule, 100 epochs, ADP, three streams.
_REFERENCE = {**_AGW_REFERENCE, "augment": "caj", "metric_loss": "adp", "epochs": 100}

# The shared CPU demo budget on CAJ's own streams (channel exchange is CAJ's answer to colour,
# so no VIMC); the ADP triplet mined across modalities, as in the other demos. Two thirds of the
# epochs: the network sees 1.5 images per sampled one, so the same number of images in all.
_DEMO = {**_AGW_DEMO, "augment": "caj", "vimc_p": 0.5, "metric_loss": "adp", "epochs": 24}


@dataclass(frozen=True)
class CAJRecipe(AGWRecipe):
    """A `Recipe` for CAJ: the `AGW` network, CAJ's streams and ADP triplet.

    CAJ: M. Ye, W. Ruan, B. Du and M. Z. Shou, "Channel Augmented Joint Learning for
    Visible-Infrared Recognition", ICCV 2021; CAJ+: M. Ye, Z. Wu, C. Chen and B. Du, "Channel
    Augmentation for Visible-Infrared Re-Identification", IEEE TPAMI 2023.

    Each sampled batch of P·K visible and P·K infrared images becomes three streams
    ([`vireid.augment.CAJStreams`][vireid.augment.CAJStreams]): every visible image with channel
    random erasing (V₀), the same visible images again with their own draws and a random
    channel copied into all three (V₁), every infrared image with erasing and adaptive gray
    (T). All 3·P·K images train the identity loss and the ADP triplet
    ([`vireid.losses.AdaptiveTripletLoss`][vireid.losses.AdaptiveTripletLoss]), mined over the
    whole batch in the released code ("channel-mixed learning").

    Presets (`CAJRecipe.preset(name, dataset)`):

    | setting | ``reference`` (SYSU-MM01 and RegDB) | ``pami23`` | ``demo`` (CPU) |
    |---|---|---|---|
    | streams | V₀, V₁, T (erasing 0.5, adaptive gray 0.5) | erasing 0.6 on V₀/V₁, adaptive gray 0.6, grayscale 0.1 on V₀ | as ``reference`` at 128×64 |
    | input | 288×144, pad 10 + crop, flip | same | 128×64 |
    | sampler | ``agw_pk`` 8×(4+4) → 96 images per step | same | same |
    | backbone | ResNet-50, ImageNet, last stride 1 | same | ResNet-18 width 32, scratch |
    | network | AGW: two stems, non-local, GeM, BN neck | same | same |
    | optimiser | SGD 0.9 Nesterov, wd 5e-4; LR 0.01 backbone, 0.1 head | same | Adam 2e-3, wd 5e-4 |
    | schedule | warm-up (e+1)/10 to epoch 10; ×0.1 at 20, 50; 100 epochs | same | warm-up 3, cosine, 24 (the other demos' 36 epochs of images) |
    | losses | CE + ADP (α = γ = 1, squared), mined over the batch | same | same, mined across modalities |

    ``pami23`` changes only the stream probabilities; CAJ+'s other additions are not part of
    its released training code's defaults. As with AGW, the released code selects its best
    checkpoint on the test set; here ``selection="val"`` selects on validation identities.

    Attributes:
        caj_variant: Stream probabilities: ``"iccv21"`` (CAJ) or ``"pami23"`` (CAJ+).
        adp_alpha: α of the ADP triplet (softmax temperature of the distance weights).
        adp_gamma: γ of the ADP triplet (scale of the gap).
        adp_square: The enhanced squared difference (CAJ's ``--square 1``).
    """  # noqa: E501

    method: ClassVar[str] = "caj"

    augment: str = "caj"
    epochs: int = 100
    metric_loss: str = "adp"
    caj_variant: str = "iccv21"
    adp_alpha: float = 1.0
    adp_gamma: float = 1.0
    adp_square: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.caj_variant != "iccv21" and self.augment != "caj":
            raise ValueError(
                f"caj_variant only applies to augment='caj', got caj_variant="
                f"{self.caj_variant!r} with augment={self.augment!r}"
            )

    @classmethod
    def _choices(cls) -> dict[str, tuple[object, ...]]:
        return {**super()._choices(), "caj_variant": ("iccv21", "pami23")}

    @classmethod
    def presets(cls) -> dict[str, tuple[str, ...]]:
        """``reference`` and ``pami23`` (SYSU-MM01, RegDB), ``demo`` (all three layouts)."""
        return {
            "reference": ("sysu", "regdb"),
            "pami23": ("sysu", "regdb"),
            "demo": ("sysu", "regdb", "llcm"),
        }

    @classmethod
    def _preset_values(cls, name: str, dataset: str) -> dict[str, Any]:
        if name == "demo":
            return dict(_DEMO)
        return {**_REFERENCE, "caj_variant": "pami23" if name == "pami23" else "iccv21"}

    def build_criterion(self) -> nn.Module:
        """`AGWLoss` with this recipe's metric (ADP by default) and weights."""
        return AGWLoss(
            self.id_weight,
            self.metric_weight,
            metric=one_of(self.metric_loss, ("wrt", "triplet", "adp"), "metric_loss"),
            margin=self.margin,
            label_smoothing=self.label_smoothing,
            cross_modality_only=self.cross_modality_mining,
            adp_alpha=self.adp_alpha,
            adp_gamma=self.adp_gamma,
            adp_square=self.adp_square,
        )

    def build_augment(self, generator: torch.Generator | None = None) -> nn.Module:
        """`CAJStreams` of ``caj_variant`` (or the base recipe's for another ``augment``)."""
        if self.augment != "caj":
            return super().build_augment(generator)
        variant: Literal["iccv21", "pami23"] = one_of(
            self.caj_variant, ("iccv21", "pami23"), "caj_variant"
        )
        return CAJStreams(self.image_size, variant=variant, generator=generator)
