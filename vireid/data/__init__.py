"""Datasets and samplers.

Now: the `Sample` record, the SYSU-MM01 reader with the official and AGW gallery samplers, and
`DatasetLayoutError`. Planned: RegDB and LLCM readers, the protocol runner, the cross-modality
P×K identity sampler, and synthetic VI-ReID data in the real folder layouts.
"""

from vireid.data.errors import DatasetLayoutError
from vireid.data.sample import INFRARED, VISIBLE, Sample
from vireid.data.sysu import SYSUMM01

__all__ = ["INFRARED", "SYSUMM01", "VISIBLE", "DatasetLayoutError", "Sample"]
