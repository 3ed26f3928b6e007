"""MCJA (Liang et al., IEEE TCSVT 2024): the network, its criterion and its recipes."""

from vireid.models.mcja.criterion import MCJALoss
from vireid.models.mcja.model import MCJA
from vireid.models.mcja.recipe import MCJARecipe

__all__ = ["MCJA", "MCJALoss", "MCJARecipe"]
