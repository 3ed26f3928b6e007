"""The modality label convention every layer shares (private): 0 visible, 1 infrared.

Kept outside the layers so an augmentation, a block or the engine can check labels without
importing the dataset readers.
"""

from __future__ import annotations

import torch

#: Modality label of visible (RGB) images.
VISIBLE = 0
#: Modality label of infrared / thermal images.
INFRARED = 1


def check_modality_values(modality: torch.Tensor, name: str = "modality") -> None:
    """Raise ``ValueError`` unless every entry of ``modality`` is 0 or 1.

    The check reads the result back to the host, so call sites run it where that is free: on
    CPU tensors (a loader's batch before the copy to the device) or behind an explicit switch.
    Labels ``{1, 2}`` (1-based) or ``-1`` (unknown) would otherwise route images to the wrong
    branch without any error.
    """
    bad = (modality != VISIBLE) & (modality != INFRARED)
    if bool(bad.any()):
        values = torch.unique(modality[bad]).tolist()
        raise ValueError(
            f"{name} must be 0 (visible) or 1 (infrared), found {values[:8]} at "
            f"{int(bad.sum())} of {modality.numel()} positions. Map 1-based labels with "
            f"`{name} - 1`, or use vireid.data.VISIBLE / INFRARED."
        )
