"""Pictures of results (matplotlib, optional)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from vireid.engine.atomic_files import atomic_open
from vireid.metrics import ProtocolResult

__all__ = ["save_cmc_plot"]


def save_cmc_plot(
    results: Mapping[str, ProtocolResult], path: str | os.PathLike[str], *, title: str = ""
) -> Path | None:
    """Plot the mean CMC curve of each result (e.g. ``{"untrained": r0, "trained": r1}``).

    Returns the PNG's path, or ``None`` when matplotlib is not installed
    (``pip install 'vireid[plot]'``): a missing plot never stops a run.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    for name, result in results.items():
        cmc = result.summary.cmc
        ranks = list(range(1, len(cmc) + 1))
        label = f"{name} (R1 {100 * float(cmc[0]):.1f}, mAP {100 * result.summary.mAP:.1f})"
        ax.plot(ranks, [100 * float(v) for v in cmc], marker="o", markersize=3, label=label)
    ax.set_xlabel("rank")
    ax.set_ylabel("matching rate (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    try:
        with atomic_open(path, "wb") as f:
            fig.savefig(f, format=path.suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
    return path
