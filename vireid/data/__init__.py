"""Datasets and samplers.

Planned: SYSU-MM01, RegDB and LLCM readers in their real folder layouts, the official and AGW
gallery samplers, the cross-modality P×K identity sampler, and synthetic VI-ReID data generators.
"""

__all__: list[str] = []
