"""AGW (Ye et al., IEEE TPAMI 2021): the two-stream network, its criterion and its recipes."""

from vireid.models.agw.criterion import AGWLoss
from vireid.models.agw.model import AGW
from vireid.models.agw.recipe import AGWRecipe

__all__ = ["AGW", "AGWLoss", "AGWRecipe"]
