"""Small numeric kernels shared by metrics and losses.

- [`pairwise_distance`][vireid.ops.pairwise_distance]: cosine / Euclidean / squared Euclidean /
  negative dot distances.
- [`soft_rank`][vireid.ops.soft_rank], [`soft_sort`][vireid.ops.soft_sort]: exact
  differentiable soft rank and sort (Blondel et al., ICML 2020) in pure PyTorch, the same
  definition as torchsort (used when installed).
"""

from vireid.ops.distance import DISTANCE_METRICS, pairwise_distance
from vireid.ops.permutahedron import soft_rank, soft_sort

__all__ = ["DISTANCE_METRICS", "pairwise_distance", "soft_rank", "soft_sort"]
