"""Network layers for visible-infrared re-identification.

- [`GradientReversal`][vireid.nn.GradientReversal] / [`grad_reverse`][vireid.nn.grad_reverse] /
  [`dann_alpha`][vireid.nn.dann_alpha] — gradient reversal with an optional DANN schedule
  (IDKL's modality confuser).
- [`ModalityClassifier`][vireid.nn.ModalityClassifier] — IDKL's modality discriminator / confuser
  MLP.
- [`InformationPurifier`][vireid.nn.InformationPurifier] — IDKL's IN-guided information purifier
  (returns a [`PurifierOutput`][vireid.nn.PurifierOutput]).
- [`ModalityDistributionAdapter`][vireid.nn.ModalityDistributionAdapter] — MCJA's residual
  modality distribution adapter.
- [`GeM`][vireid.nn.GeM] / [`gem`][vireid.nn.gem] — generalised-mean pooling ($p = 3$ in IDKL,
  MCJA and AGW).
- [`BNNeck`][vireid.nn.BNNeck] — the BN neck with a frozen bias (returns a
  [`NeckOutput`][vireid.nn.NeckOutput]).
- [`NonLocal`][vireid.nn.NonLocal] — the residual dot-product non-local block of the AGW baseline.

Every block is a plain `nn.Module` (no TorchScript), keeps the input's device and dtype, and
checks its input at the boundary. The "Network blocks" guide of the documentation shows where
each block sits in MCJA, IDKL and EMIF.
"""

from vireid.nn.gradient_reversal import GradientReversal, dann_alpha, grad_reverse
from vireid.nn.mda import ModalityDistributionAdapter
from vireid.nn.modality_classifier import ModalityClassifier
from vireid.nn.neck import BNNeck, NeckOutput
from vireid.nn.non_local import NonLocal
from vireid.nn.pooling import GeM, gem
from vireid.nn.purifier import InformationPurifier, PurifierOutput

__all__ = [
    "BNNeck",
    "GeM",
    "GradientReversal",
    "InformationPurifier",
    "ModalityClassifier",
    "ModalityDistributionAdapter",
    "NeckOutput",
    "NonLocal",
    "PurifierOutput",
    "dann_alpha",
    "gem",
    "grad_reverse",
]
