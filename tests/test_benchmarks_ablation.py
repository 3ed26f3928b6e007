"""The ablation benchmark's cells: every override is a real recipe field and changes the recipe.

The runs themselves take minutes each and are measured by hand (see the script's docstring);
here a misspelt field or a value that does not parse would fail before hours of training.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.ablation_synthetic import CELLS, _cell_dir, markdown
from vireid.models import get_recipe


def test_every_cell_is_a_valid_recipe_that_differs_from_the_full_one():
    for method, cells in CELLS.items():
        full = get_recipe(method, "demo")
        assert cells[0] == ("FULL", {})
        for block, overrides in cells[1:]:
            recipe = full.with_strings(overrides)
            assert recipe != full, (method, block)
            recipe.build_criterion()  # the recipe's pieces accept the switched-off block


def test_cell_folders_are_distinct_and_the_table_shows_the_change():
    folders = {_cell_dir(Path("o"), m, b) for m, c in CELLS.items()
               for b, _ in c}  # fmt: skip
    assert len(folders) == sum(len(c) for c in CELLS.values())
    rows = [
        {"method": "mcja", "block": "FULL", "rank1": (30.0, 1.0), "mAP": (40.0, 0.5),
         "runs": [{}, {}]},
        {"method": "mcja", "block": "CMR", "rank1": (28.0, 2.0), "mAP": (37.5, 1.5),
         "runs": [{}, {}]},
    ]  # fmt: skip
    text = markdown(rows)
    assert "| MCJA | CMR | 28.0 ± 2.0 | 37.5 ± 1.5 | -2.5 | 2 |" in text
    assert "| MCJA | none (full demo preset) | 30.0 ± 1.0 | 40.0 ± 0.5 | — | 2 |" in text
