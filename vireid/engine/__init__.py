"""Training and evaluation loop pieces.

Planned: mixed precision, distributed training, checkpoints, logging and the glue that runs an
evaluation protocol over a model.
"""

__all__: list[str] = []
