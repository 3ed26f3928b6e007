"""EMIF training recipes (a proposal): AGW's settings with the enhancing branches and DCL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from torch import nn

from vireid._choices import one_of
from vireid.models.agw.recipe import _DEMO as _AGW_DEMO
from vireid.models.agw.recipe import _REFERENCE as _AGW_REFERENCE
from vireid.models.agw.recipe import AGWRecipe
from vireid.models.emif.criterion import EMIFLoss
from vireid.models.emif.model import EMIF

__all__ = ["EMIFRecipe"]


@dataclass(frozen=True)
class EMIFRecipe(AGWRecipe):
    """A `Recipe` for `EMIF` with `EMIFLoss` — a proposal inspired by Zhang et al. (IJMLC 2025).

    The paper's settings are not public, so there is no ``reference`` or ``paper`` preset:

    | setting | ``proposal`` (SYSU-MM01, RegDB) | ``demo`` (CPU) |
    |---|---|---|
    | everything AGW has | AGW's ``reference`` (288×144, 8 × (4 + 4), ResNet-50 ImageNet, SGD, 81 epochs) | AGW's ``demo`` |
    | branches | a ``layer4`` copy per modality | same |
    | losses | CE + WRT, λ_ime = 1 (branch CE + intra-modality triplet 0.3), λ_dcl = 1 (Jeffreys, modality level) | same, WRT mined across modalities |

    Numbers trained with these presets are this library's proposal, not a reproduction of the
    paper, and must not be compared with its tables as if they were.

    Attributes:
        branch: ``"layer4"`` or ``"mlp"`` (see `EMIF`).
        test_feature: ``"unified"`` or ``"concat"`` (see `EMIF`).
        ime_weight: λ_ime.
        intra: ``"triplet"`` or ``"center"``.
        intra_margin: Margin of the intra-modality triplet.
        rho: Centre separation radius of ``intra="center"``.
        dcl_weight: λ_dcl.
        divergence: ``"jeffreys"``, ``"w2"`` or ``"moments"``.
        dcl_level: ``"modality"``, ``"identity"`` or ``"both"``.
    """  # noqa: E501

    method: ClassVar[str] = "emif"

    branch: str = "layer4"
    test_feature: str = "unified"
    ime_weight: float = 1.0
    intra: str = "triplet"
    intra_margin: float = 0.3
    rho: float = 1.0
    dcl_weight: float = 1.0
    divergence: str = "jeffreys"
    dcl_level: str = "modality"

    @classmethod
    def _choices(cls) -> dict[str, tuple[object, ...]]:
        return {
            **super()._choices(),
            "branch": ("layer4", "mlp"),
            "test_feature": ("unified", "concat"),
            "intra": ("triplet", "center"),
            "divergence": ("jeffreys", "w2", "moments"),
            "dcl_level": ("modality", "identity", "both"),
        }

    @classmethod
    def presets(cls) -> dict[str, tuple[str, ...]]:
        """``proposal`` (SYSU-MM01, RegDB, the paper's datasets) and ``demo`` (all three)."""
        return {"proposal": ("sysu", "regdb"), "demo": ("sysu", "regdb", "llcm")}

    @classmethod
    def _preset_values(cls, name: str, dataset: str) -> dict[str, Any]:
        return dict(_AGW_DEMO if name == "demo" else _AGW_REFERENCE)

    def _make_model(self, num_classes: int) -> nn.Module:
        """`EMIF` with this recipe's backbone, branches and test feature."""
        inter: Literal["reference", "half"] = one_of(
            self.inter_channels, ("reference", "half"), "inter_channels"
        )
        if not self.gem:
            raise ValueError("EMIF pools with GeM; gem=False is only available for AGW")
        return EMIF(
            num_classes,
            branch=one_of(self.branch, ("layer4", "mlp"), "branch"),
            test_feature=one_of(self.test_feature, ("unified", "concat"), "test_feature"),
            arch=self.arch,
            pretrained=self.pretrained,
            last_stride=self.last_stride,
            non_local=self.non_local,
            inter_channels=inter,
            width=self.width,
        )

    def build_criterion(self) -> nn.Module:
        """`EMIFLoss` with this recipe's weights."""
        return EMIFLoss(
            id_weight=self.id_weight,
            metric_weight=self.metric_weight,
            metric=one_of(self.metric_loss, ("wrt", "triplet", "adp"), "metric_loss"),
            margin=self.margin,
            cross_modality_only=self.cross_modality_mining,
            ime_weight=self.ime_weight,
            intra=one_of(self.intra, ("triplet", "center"), "intra"),
            intra_margin=self.intra_margin,
            rho=self.rho,
            dcl_weight=self.dcl_weight,
            divergence=one_of(self.divergence, ("jeffreys", "w2", "moments"), "divergence"),
            dcl_level=one_of(self.dcl_level, ("modality", "identity", "both"), "dcl_level"),
        )
