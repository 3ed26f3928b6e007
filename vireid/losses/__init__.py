"""Loss functions for visible-infrared re-identification.

Every loss is a small ``nn.Module`` over a pure function in :mod:`vireid.losses.functional`.
Metric-learning losses share one call signature, ``loss(features, labels, modalities)``
(modalities: 0 visible, 1 infrared), never depend on the order of samples in the batch, compute
in float32 under autocast, and return a zero loss attached to the graph (with a one-time
warning) on a batch that leaves them undefined.

- MCJA: :class:`CMRLoss` (cross-modality retrieval on exact soft ranks).
- IDKL: :class:`TGSALoss`, :class:`CSALoss`, :class:`MDRLoss`, :class:`InformationPurifierLoss`,
  :class:`ModalityConfusionLoss`, :class:`SymmetricKLLoss`.
- Identity / triplet family: :class:`CrossEntropyLabelSmooth`, :class:`TripletLoss`,
  :class:`WeightedRegularizationTriplet` (AGW), :class:`AdaptiveTripletLoss` (CAJ),
  :class:`HeteroCenterTripletLoss`.
- Distribution alignment (a documented proposal): :class:`DistributionConsistencyLoss`,
  :class:`IntraModalityLoss`.
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
