"""Guards the public API: what each subpackage exports, and that every name resolves."""

from __future__ import annotations

import importlib

import pytest

import vireid

EXPECTED = {
    "vireid.metrics": {
        "EXCLUSION_RULES",
        "ExclusionFn",
        "ProtocolResult",
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
    "vireid.ops": {"DISTANCE_METRICS", "pairwise_distance", "soft_rank", "soft_sort"},
    "vireid.augment": {
        "VIMC",
        "AugmentedViews",
        "BatchAugment",
        "CAJStreams",
        "ChannelAdaptiveGray",
        "ChannelCutMix",
        "ChannelExchange",
        "ChannelRandomErasing",
        "ChannelSelect",
        "HueJitter",
        "ModalityAware",
        "RandomChoice",
        "RandomErasing",
        "SpectrumJitter",
        "TransformParams",
        "WeightedGrayscale",
        "functional",
        "presets",
    },
    "vireid.nn": {
        "BNNeck",
        "GeM",
        "GradientReversal",
        "InformationPurifier",
        "ModalityClassifier",
        "ModalityDistributionAdapter",
        "NeckOutput",
        "NonLocal",
        "PurifierOutput",
        "dann_alpha",
        "gem",
        "grad_reverse",
    },
    "vireid.losses": {
        "AdaptiveTripletLoss",
        "CMRLoss",
        "CSALoss",
        "CrossEntropyLabelSmooth",
        "DistributionConsistencyLoss",
        "HeteroCenterTripletLoss",
        "InformationPurifierLoss",
        "IntraModalityLoss",
        "MDRLoss",
        "ModalityConfusionLoss",
        "SymmetricKLLoss",
        "TGSALoss",
        "TripletLoss",
        "WeightedRegularizationTriplet",
        "functional",
    },
    "vireid.losses.functional": {
        "adaptive_triplet_loss",
        "cmr_loss",
        "cross_entropy_label_smooth",
        "csa_loss",
        "distribution_consistency_loss",
        "enhancement_loss",
        "graph_affinity",
        "hetero_center_triplet_loss",
        "information_purifier_loss",
        "intra_modality_loss",
        "kl_divergence",
        "mdr_loss",
        "modality_confusion_loss",
        "pseudo_modality_labels",
        "reduction_loss",
        "softmax_entropy",
        "symmetric_kl",
        "tgsa_distillation_loss",
        "tgsa_loss",
        "triplet_loss",
        "weighted_regularization_triplet",
    },
    "vireid.data": {
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
    },
    "vireid.models": {
        "AGW",
        "MCJA",
        "METHODS",
        "AGWLoss",
        "AGWRecipe",
        "CAJRecipe",
        "EMIF",
        "EMIFLoss",
        "EMIFOutput",
        "EMIFRecipe",
        "EmbeddingHead",
        "IDKL",
        "IDKLLoss",
        "IDKLOutput",
        "IDKLRecipe",
        "MCJALoss",
        "MCJARecipe",
        "ReIDOutput",
        "Recipe",
        "backbones",
        "get_recipe",
    },
    "vireid.models.mcja": {"MCJA", "MCJALoss", "MCJARecipe"},
    "vireid.models.agw": {"AGW", "AGWLoss", "AGWRecipe"},
    "vireid.models.caj": {"CAJRecipe"},
    "vireid.models.idkl": {"IDKL", "IDKLLoss", "IDKLOutput", "IDKLRecipe"},
    "vireid.models.emif": {"EMIF", "EMIFLoss", "EMIFOutput", "EMIFRecipe"},
    "vireid.models.backbones": {"STAGES", "ResNet", "resnet18", "resnet34", "resnet50"},
    "vireid.engine": {
        "atomic_open",
        "write_text_atomic",
        "AmpMode",
        "CachedBatches",
        "CheckpointManager",
        "DistributedContext",
        "EpochStats",
        "FeatureExtractor",
        "FeatureSource",
        "FitResult",
        "NonFiniteLossError",
        "RunLog",
        "all_gather_rows",
        "autocast",
        "build_optimizer",
        "build_train_loader",
        "evaluate_llcm",
        "evaluate_regdb",
        "evaluate_sysu",
        "evaluate_validation",
        "extract_features",
        "fit",
        "get_rng_state",
        "grad_scaler",
        "init_distributed",
        "load_checkpoint",
        "lr_factor",
        "peak_memory_mb",
        "resolve_amp",
        "save_checkpoint",
        "save_cmc_plot",
        "seed_everything",
        "set_learning_rate",
        "set_rng_state",
        "train_one_epoch",
        "unwrap_model",
        "validation_score",
        "versions",
    },
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
    top = {m.split(".")[1] for m in EXPECTED if m.count(".") == 1}
    assert set(vireid.__all__) == {"__version__"} | top


@pytest.mark.parametrize(
    ("module_name", "forbidden"),
    [
        ("vireid.metrics", ("vireid.models", "vireid.engine", "vireid.data", "vireid.losses")),
        ("vireid.ops", ("vireid.metrics", "vireid.data", "vireid.engine", "vireid.models")),
        ("vireid.data", ("vireid.models", "vireid.engine", "vireid.losses", "vireid.nn")),
        ("vireid.losses", ("vireid.models", "vireid.engine", "vireid.data", "vireid.augment")),
        ("vireid.nn", ("vireid.models", "vireid.engine", "vireid.data", "vireid.losses")),
        ("vireid.models", ("vireid.engine", "vireid.data")),
    ],
)
def test_layering_imports_point_downward(module_name, forbidden):
    """Taking one piece never pulls in the layers above it (ARCHITECTURE.md)."""
    import subprocess
    import sys

    code = (
        f"import sys, {module_name}; "
        f"bad = sorted(m for m in sys.modules if m.startswith({forbidden!r})); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_only_the_engine_uses_tqdm_at_import():
    """tqdm is imported by the training engine alone; elsewhere only inside a function.

    (`vireid.data.integrity` shows a progress bar while it decodes a dataset; torch itself may
    import tqdm.)"""
    import ast
    from pathlib import Path

    root = Path(vireid.__file__).parent
    for path in root.rglob("*.py"):
        if "engine" in path.relative_to(root).parts:
            continue
        tree = ast.parse(path.read_text())
        lazy = {
            id(inner)
            for fn in ast.walk(tree)
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
            for inner in ast.walk(fn)
        }
        for node in ast.walk(tree):
            if id(node) in lazy:
                continue
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] == "tqdm" for n in names), path


def test_subpackages_load_lazily_from_the_top_level():
    assert vireid.engine.evaluate_sysu is not None
    assert "metrics" in dir(vireid)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        vireid.nope  # noqa: B018


def test_benchmarks_never_import_the_tests():
    """The baselines benchmarks compare against live in benchmarks/; tests may import them."""
    import ast
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    for path in bench.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] == "tests" for n in names), path
