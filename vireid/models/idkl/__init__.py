"""IDKL (Ren and Zhang, CVPR 2024): the dual-stream network, its objective and recipes."""

from vireid.models.idkl.criterion import IDKLLoss
from vireid.models.idkl.model import IDKL, IDKLOutput
from vireid.models.idkl.recipe import IDKLRecipe

__all__ = ["IDKL", "IDKLLoss", "IDKLOutput", "IDKLRecipe"]
