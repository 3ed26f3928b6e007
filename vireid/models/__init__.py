"""Model assemblies and their backbones.

Now: :mod:`vireid.models.backbones` (ResNet-18/34/50 with named stages, stage slicing for
dual-stream and per-modality stems, and insertion points for adapters). Planned: the MCJA, IDKL,
EMIF and AGW assemblies with their criteria and recipes.
"""

from vireid.models import backbones

__all__ = ["backbones"]
