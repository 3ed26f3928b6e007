"""Guards the public API: what each subpackage exports, and that every name resolves."""

from __future__ import annotations

import importlib

import pytest

import vireid

EXPECTED = {
    "vireid.metrics": {
        "EXCLUSION_RULES",
        "ExclusionFn",
        "RankMetrics",
        "TrialSummary",
        "exclusion_mask",
        "llcm_metrics",
        "mean_over_trials",
        "pairwise_distance",
        "rank_metrics",
        "regdb_metrics",
        "sysu_metrics",
    },
    "vireid.ops": {"DISTANCE_METRICS", "pairwise_distance"},
    "vireid.augment": set(),
    "vireid.nn": set(),
    "vireid.losses": set(),
    "vireid.data": {"INFRARED", "SYSUMM01", "VISIBLE", "DatasetLayoutError", "Sample"},
    "vireid.models": set(),
    "vireid.engine": set(),
}


@pytest.mark.parametrize("module_name", sorted(EXPECTED))
def test_exports(module_name):
    module = importlib.import_module(module_name)
    assert set(module.__all__) == EXPECTED[module_name]
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.{name} is listed but missing"
    assert module.__doc__, f"{module_name} needs a docstring"


def test_version_and_top_level():
    assert vireid.__version__ == "0.1.0.dev0"
    assert set(vireid.__all__) == {"__version__"} | {m.split(".")[1] for m in EXPECTED}


def test_layering_metrics_does_not_import_models_or_engine():
    import subprocess
    import sys

    code = (
        "import sys, vireid.metrics; "
        "bad = [m for m in sys.modules if m.startswith(('vireid.models.', 'vireid.engine.'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
