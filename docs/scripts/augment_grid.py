"""Draw docs/img/augment_grid.png: each modality augmentation on a synthetic visible/infrared pair.

    python docs/scripts/augment_grid.py

Fixed parameters (not random draws) so the picture is stable; it uses only the public API.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from vireid.augment import functional as F
from vireid.data import make_sysu_like

OUT = Path(__file__).resolve().parents[1] / "img" / "augment_grid.png"


def _load(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.asarray(Image.open(path).convert("RGB")).copy()).permute(2, 0, 1)


def main() -> None:
    """Render the grid and save it."""
    with tempfile.TemporaryDirectory() as tmp:
        root = make_sysu_like(Path(tmp) / "sysu", 12, seed=3, size=(192, 96))
        pid = next(
            p.name for p in sorted((root / "cam1").iterdir()) if (root / "cam3" / p.name).is_dir()
        )
        vis = _load(root / "cam1" / pid / "0001.jpg")
        ir = _load(root / "cam3" / pid / "0001.jpg")
    h, w = vis.shape[-2:]
    box = (h // 4, w // 5, h // 2, (3 * w) // 5)
    tiles = [
        ("visible", vis),
        ("infrared", ir),
        ("weighted gray\n(.6,.3,.1)", F.weighted_grayscale(vis, (0.6, 0.3, 0.1))),
        ("weighted gray\n(.1,.2,.7)", F.weighted_grayscale(vis, (0.1, 0.2, 0.7))),
        ("channel cutmix\nR with G box", F.channel_cutmix(vis, box, 0, 1)),
        ("spectrum jitter\nB, alpha=.4", F.spectrum_jitter(vis, 2, 0.4)),
        ("select R", F.channel_select(vis, "r")),
        ("select G", F.channel_select(vis, "g")),
        ("select B", F.channel_select(vis, "b")),
        ("select avg", F.channel_select(vis, "avg")),
        ("exchange gray\n(CAJ)", F.channel_exchange(vis, 3)),
        ("channel erase\n(CAJ fill)", F.channel_random_erase(vis, box, (125, 123, 114))),
    ]
    cols = 6
    label_h = 30
    rows = (len(tiles) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * (w + 8), rows * (h + label_h + 8)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (name, img) in enumerate(tiles):
        x0 = (i % cols) * (w + 8) + 4
        y0 = (i // cols) * (h + label_h + 8) + 4
        sheet.paste(Image.fromarray(img.permute(1, 2, 0).numpy()), (x0, y0))
        draw.multiline_text((x0, y0 + h + 2), name, fill="black", spacing=1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(OUT, optimize=True)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
