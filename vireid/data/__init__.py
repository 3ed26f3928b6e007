"""Datasets and samplers.

Now: the `Sample` record and `ImageDataset`; readers for SYSU-MM01 (official and AGW gallery
samplers), RegDB and LLCM (DEEN, symmetric and full protocols); `DatasetLayoutError`;
the cross-modality P×K identity sampler (`agw_pk`, `pk_any`, `idkl_random`); synthetic VI-ReID
data written in the real folder layouts (`make_sysu_like`, `make_regdb_like`, `make_llcm_like`);
validation on held-out training identities (`ValidationSplit`, `hold_out_identities`,
`carve_identities`).
"""

from vireid.data.errors import DatasetLayoutError
from vireid.data.image_dataset import ImageDataset
from vireid.data.llcm import LLCM
from vireid.data.regdb import RegDB
from vireid.data.sample import INFRARED, VISIBLE, Sample
from vireid.data.samplers import CrossModalityIdentitySampler
from vireid.data.synthetic import make_llcm_like, make_regdb_like, make_sysu_like
from vireid.data.sysu import SYSUMM01
from vireid.data.validation import ValidationSplit, carve_identities, hold_out_identities

__all__ = [
    "INFRARED",
    "LLCM",
    "SYSUMM01",
    "VISIBLE",
    "CrossModalityIdentitySampler",
    "DatasetLayoutError",
    "ImageDataset",
    "RegDB",
    "Sample",
    "ValidationSplit",
    "carve_identities",
    "hold_out_identities",
    "make_llcm_like",
    "make_regdb_like",
    "make_sysu_like",
]
