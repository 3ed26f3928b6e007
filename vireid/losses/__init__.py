"""Loss functions for visible-infrared re-identification.

Every loss is a small ``nn.Module`` over a pure function in
[`vireid.losses.functional`][vireid.losses.functional].
Metric-learning losses share one call signature, ``loss(features, labels, modalities)``
(modalities: 0 visible, 1 infrared), never depend on the order of samples in the batch, compute
in float32 under autocast, and return a zero loss attached to the graph (with a one-time
warning) on a batch that leaves them undefined.

- MCJA: [`CMRLoss`][vireid.losses.CMRLoss] (cross-modality retrieval on exact soft ranks).
- IDKL: [`TGSALoss`][vireid.losses.TGSALoss], [`CSALoss`][vireid.losses.CSALoss],
  [`MDRLoss`][vireid.losses.MDRLoss],
  [`InformationPurifierLoss`][vireid.losses.InformationPurifierLoss],
  [`ModalityConfusionLoss`][vireid.losses.ModalityConfusionLoss],
  [`SymmetricKLLoss`][vireid.losses.SymmetricKLLoss].
- Identity / triplet family: [`CrossEntropyLabelSmooth`][vireid.losses.CrossEntropyLabelSmooth],
  [`TripletLoss`][vireid.losses.TripletLoss],
  [`WeightedRegularizationTriplet`][vireid.losses.WeightedRegularizationTriplet] (AGW),
  [`AdaptiveTripletLoss`][vireid.losses.AdaptiveTripletLoss] (CAJ),
  [`HeteroCenterTripletLoss`][vireid.losses.HeteroCenterTripletLoss].
- Distribution alignment (a documented proposal):
  [`DistributionConsistencyLoss`][vireid.losses.DistributionConsistencyLoss],
  [`IntraModalityLoss`][vireid.losses.IntraModalityLoss].

The docstring of each implementing module (e.g. [`vireid.losses.tgsa`][vireid.losses.tgsa])
gives the equations of its loss and how the released code of the method differs from its paper.
"""

from vireid.losses import functional
from vireid.losses.cmr import CMRLoss
from vireid.losses.confusion import ModalityConfusionLoss
from vireid.losses.csa import CSALoss
from vireid.losses.distribution import DistributionConsistencyLoss
from vireid.losses.hetero_center import HeteroCenterTripletLoss
from vireid.losses.identity import CrossEntropyLabelSmooth
from vireid.losses.intra_modality import IntraModalityLoss
from vireid.losses.mdr import MDRLoss
from vireid.losses.purifier import InformationPurifierLoss
from vireid.losses.skl import SymmetricKLLoss
from vireid.losses.tgsa import TGSALoss
from vireid.losses.triplet import AdaptiveTripletLoss, TripletLoss, WeightedRegularizationTriplet

__all__ = [
    "AdaptiveTripletLoss",
    "CMRLoss",
    "CSALoss",
    "CrossEntropyLabelSmooth",
    "DistributionConsistencyLoss",
    "HeteroCenterTripletLoss",
    "InformationPurifierLoss",
    "IntraModalityLoss",
    "MDRLoss",
    "ModalityConfusionLoss",
    "SymmetricKLLoss",
    "TGSALoss",
    "TripletLoss",
    "WeightedRegularizationTriplet",
    "functional",
]
