"""Datasets and samplers.

- [`Sample`][vireid.data.Sample] records (with the [`VISIBLE`][vireid.data.VISIBLE] and
  [`INFRARED`][vireid.data.INFRARED] modality labels) and
  [`ImageDataset`][vireid.data.ImageDataset], which decodes and resizes them.
- Readers: [`SYSUMM01`][vireid.data.SYSUMM01] (official and AGW gallery samplers),
  [`RegDB`][vireid.data.RegDB] and [`LLCM`][vireid.data.LLCM] (DEEN, symmetric and full
  protocols); every layout problem is reported in one
  [`DatasetLayoutError`][vireid.data.DatasetLayoutError].
- [`CrossModalityIdentitySampler`][vireid.data.CrossModalityIdentitySampler]: the cross-modality
  P×K identity sampler (``agw_pk``, ``pk_any``, ``idkl_random``).
- Synthetic VI-ReID data written in the real folder layouts:
  [`make_sysu_like`][vireid.data.make_sysu_like], [`make_regdb_like`][vireid.data.make_regdb_like],
  [`make_llcm_like`][vireid.data.make_llcm_like].
- Validation on held-out training identities: [`ValidationSplit`][vireid.data.ValidationSplit],
  [`hold_out_identities`][vireid.data.hold_out_identities],
  [`carve_identities`][vireid.data.carve_identities].
- Integrity: [`find_unreadable`][vireid.data.find_unreadable] decodes every image and lists the
  corrupt, truncated or empty ones (what `check(decode=True)` and `vireid data check --decode`
  report).
"""

from vireid.data.errors import DatasetLayoutError
from vireid.data.image_dataset import ImageDataset
from vireid.data.integrity import find_unreadable
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
    "find_unreadable",
    "hold_out_identities",
    "make_llcm_like",
    "make_regdb_like",
    "make_sysu_like",
]
