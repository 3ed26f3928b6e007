"""CAJ (Ye et al., ICCV 2021): the AGW network trained on three channel-augmented streams."""

from vireid.models.caj.recipe import CAJRecipe

__all__ = ["CAJRecipe"]
