"""The methods the training engine and the example scripts can run, by name."""

from __future__ import annotations

from typing import Any

from vireid.models.agw import AGWRecipe
from vireid.models.caj import CAJRecipe
from vireid.models.emif import EMIFRecipe
from vireid.models.idkl import IDKLRecipe
from vireid.models.mcja import MCJARecipe
from vireid.models.recipe import Recipe

__all__ = ["METHODS", "get_recipe"]

METHODS: dict[str, type[Recipe]] = {
    "mcja": MCJARecipe,
    "agw": AGWRecipe,
    "caj": CAJRecipe,
    "idkl": IDKLRecipe,
    "emif": EMIFRecipe,
}
"""Method name → its recipe class.

A recipe builds the method's model and criterion, so this mapping is all a script needs to run a
method; add your own entry to run your own method.
"""


def get_recipe(
    method: str, preset: str = "reference", dataset: str = "sysu", **overrides: Any
) -> Recipe:
    """The recipe of ``method`` under a named preset.

    Args:
        method: A key of `METHODS` (``"mcja"``, ``"agw"``, ``"caj"``, ``"idkl"``, ``"emif"``).
        preset: Preset name, e.g. ``"reference"`` or ``"demo"``.
        dataset: ``"sysu"``, ``"regdb"`` or ``"llcm"``.
        **overrides: Fields to replace.

    Raises:
        ValueError: an unknown method, preset or dataset.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; available: {', '.join(sorted(METHODS))}")
    return METHODS[method].preset(preset, dataset, **overrides)
