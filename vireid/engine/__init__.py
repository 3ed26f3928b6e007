"""Training and evaluation loop pieces.

Now: the benchmark protocol runners `evaluate_sysu`, `evaluate_regdb` and `evaluate_llcm`.
Planned: mixed precision, distributed training, checkpoints and logging.
"""

from vireid.engine.evaluation import FeatureSource, evaluate_llcm, evaluate_regdb, evaluate_sysu

__all__ = ["FeatureSource", "evaluate_llcm", "evaluate_regdb", "evaluate_sysu"]
