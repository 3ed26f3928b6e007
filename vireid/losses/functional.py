"""The pure functions behind every loss module of [`vireid.losses`][vireid.losses].

Each function takes tensors and explicit hyper-parameters and returns a scalar tensor; the
``nn.Module`` of the same name only stores the hyper-parameters. Use these when a loss is one
line inside your own training step.
"""

from vireid.losses.cmr import cmr_loss
from vireid.losses.confusion import modality_confusion_loss, pseudo_modality_labels
from vireid.losses.csa import csa_loss
from vireid.losses.distribution import distribution_consistency_loss
from vireid.losses.hetero_center import hetero_center_triplet_loss
from vireid.losses.identity import cross_entropy_label_smooth
from vireid.losses.intra_modality import intra_modality_loss
from vireid.losses.mdr import mdr_loss
from vireid.losses.purifier import (
    enhancement_loss,
    information_purifier_loss,
    reduction_loss,
    softmax_entropy,
)
from vireid.losses.skl import kl_divergence, symmetric_kl
from vireid.losses.tgsa import graph_affinity, tgsa_distillation_loss, tgsa_loss
from vireid.losses.triplet import (
    adaptive_triplet_loss,
    triplet_loss,
    weighted_regularization_triplet,
)

__all__ = [
    "adaptive_triplet_loss",
    "cmr_loss",
    "cross_entropy_label_smooth",
    "csa_loss",
    "distribution_consistency_loss",
    "enhancement_loss",
    "graph_affinity",
    "hetero_center_triplet_loss",
    "information_purifier_loss",
    "intra_modality_loss",
    "kl_divergence",
    "mdr_loss",
    "modality_confusion_loss",
    "pseudo_modality_labels",
    "reduction_loss",
    "softmax_entropy",
    "symmetric_kl",
    "tgsa_distillation_loss",
    "tgsa_loss",
    "triplet_loss",
    "weighted_regularization_triplet",
]
