"""EMIF (inspired by Zhang et al., IJMLC 2025; a proposal): enhancing branches and DCL on AGW."""

from vireid.models.emif.criterion import EMIFLoss
from vireid.models.emif.model import EMIF, EMIFOutput
from vireid.models.emif.recipe import EMIFRecipe

__all__ = ["EMIF", "EMIFLoss", "EMIFOutput", "EMIFRecipe"]
