"""Small numeric kernels shared by metrics and losses.

Now: `pairwise_distance`. Planned: exact differentiable soft rank / soft sort in pure
PyTorch (torchsort used when installed).
"""

from vireid.ops.distance import DISTANCE_METRICS, pairwise_distance

__all__ = ["DISTANCE_METRICS", "pairwise_distance"]
