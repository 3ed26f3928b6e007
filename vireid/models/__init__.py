"""Model assemblies, their criteria and recipes, and their backbones.

Every assembly follows one contract, which is all the training engine knows about a method:

* ``model(images, modalities)`` returns a `ReIDOutput` of named tensors in training mode and
  the retrieval embedding ``(B, D)`` in eval mode;
* ``criterion(output, labels, modalities)`` returns a dict of named, weighted loss terms plus
  ``"total"``;
* a frozen `Recipe` holds every setting of a run and builds both
  (``recipe.build_model(num_classes)``, ``recipe.build_criterion()``).

Methods: `MCJA` / `MCJALoss` / `MCJARecipe` (Liang et al., IEEE TCSVT 2024), `AGW` /
`AGWLoss` / `AGWRecipe` (Ye et al., IEEE TPAMI 2021) and `CAJRecipe` (Ye et al., ICCV 2021: the
AGW network and criterion on CAJ's three streams with the ADP triplet), `IDKL` / `IDKLLoss` /
`IDKLOutput` / `IDKLRecipe` (Ren and Zhang, CVPR 2024), and `EMIF` / `EMIFLoss` / `EMIFOutput` /
`EMIFRecipe`, a documented proposal inspired by Zhang et al. (IJMLC 2025), whose equations are not
public. `METHODS` and
`get_recipe` look them up by name. Backbones: [`vireid.models.backbones`][vireid.models.backbones].
"""

from vireid.models import backbones
from vireid.models.agw import AGW, AGWLoss, AGWRecipe
from vireid.models.caj import CAJRecipe
from vireid.models.emif import EMIF, EMIFLoss, EMIFOutput, EMIFRecipe
from vireid.models.head import EmbeddingHead
from vireid.models.idkl import IDKL, IDKLLoss, IDKLOutput, IDKLRecipe
from vireid.models.mcja import MCJA, MCJALoss, MCJARecipe
from vireid.models.methods import METHODS, get_recipe
from vireid.models.output import ReIDOutput
from vireid.models.recipe import Recipe

__all__ = [
    "AGW",
    "EMIF",
    "IDKL",
    "MCJA",
    "METHODS",
    "AGWLoss",
    "AGWRecipe",
    "CAJRecipe",
    "EMIFLoss",
    "EMIFOutput",
    "EMIFRecipe",
    "EmbeddingHead",
    "IDKLLoss",
    "IDKLOutput",
    "IDKLRecipe",
    "MCJALoss",
    "MCJARecipe",
    "ReIDOutput",
    "Recipe",
    "backbones",
    "get_recipe",
]
