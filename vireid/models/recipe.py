"""Training recipes: every number a method's table needs, as frozen dataclasses with presets."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch
from torch import nn

from vireid._choices import one_of
from vireid.augment import BatchAugment, CAJStreams

__all__ = ["Recipe"]

_CHOICES: dict[str, tuple[object, ...]] = {
    "dataset": ("sysu", "regdb", "llcm"),
    "augment": ("mcja", "agw", "caj"),
    "sampler": ("agw_pk", "pk_any", "idkl_random"),
    "arch": ("resnet18", "resnet34", "resnet50"),
    "optimizer": ("sgd", "adam", "adamw"),
    "schedule": ("multistep", "cosine"),
    "warmup_granularity": ("epoch", "step"),
    "selection": ("val", "last"),
    "select_metric": ("mAP", "rank1", "mINP"),
    "last_stride": (1, 2),
}

# Field groups, for printing a recipe as a readable table.
# The budget every method's `demo` preset shares, so the methods compare at equal cost: small
# enough to train from scratch in a few minutes on two CPU cores (see the Training docs). A
# ResNet-18 at half width, 128×64 inputs, identity-balanced batches with both modalities (every
# cross-modality loss has positives), Adam with warm-up and cosine decay, and MCJA's
# augmentation (VIMC and random erasing), without which a network trained from scratch on a few
# dozen identities overfits to colour (validation mAP 24 instead of 40 for AGW). Every visible
# image goes through a VIMC operation (vimc_p 1, not MCJA's 0.5): a network that sees colour
# on half the visible images learns colour features that do not transfer to infrared images
# of people it has not seen (intra-modality mAP 90+ on new people, cross-modality 26).
DEMO_BUDGET: Mapping[str, Any] = types.MappingProxyType({
    "image_size": (128, 64),
    "augment": "mcja",
    "vimc_p": 1.0,
    "sampler": "agw_pk",
    "ids_per_batch": 8,
    "num_instances": 4,
    "arch": "resnet18",
    "width": 32,
    "pretrained": None,
    "last_stride": 1,
    "optimizer": "adam",
    "lr": 2e-3,
    "head_lr": None,
    "weight_decay": 5e-4,
    "epochs": 36,
    "warmup_epochs": 3,
    "warmup_granularity": "step",
    "schedule": "cosine",
    "milestones": (),
    "min_lr_factor": 0.01,
    "eval_interval": 6,
    "eval_start": 12,
    "seed": 0,
})  # fmt: skip

_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("recipe", ("method", "preset_name", "dataset")),
    ("input", ("image_size", "augment", "vimc_p")),
    ("sampler", ("sampler", "ids_per_batch", "num_instances")),
    ("backbone", ("arch", "width", "pretrained", "last_stride")),
    (
        "optimiser",
        ("optimizer", "lr", "head_lr", "weight_decay", "momentum", "nesterov", "betas"),
    ),
    (
        "schedule",
        (
            "epochs",
            "warmup_epochs",
            "warmup_granularity",
            "schedule",
            "milestones",
            "gamma",
            "min_lr_factor",
        ),
    ),
    ("evaluation", ("eval_interval", "eval_start", "selection", "select_metric", "seed")),
)


@dataclass(frozen=True)
class Recipe:
    """Settings of one training run, shared by every method; methods subclass it.

    A recipe holds everything needed to reproduce a table: input size, the P×K sampler, the
    backbone, the optimiser with its learning rates per parameter group, the schedule, the
    epochs, the evaluation interval and how the final model is chosen, plus (in the subclasses)
    the network options and the loss weights. ``print(recipe)`` shows every value. Recipes are
    frozen: derive a variant with `replace`, which checks every value again.

    Presets: ``MCJARecipe.preset("reference", dataset="sysu")`` gives the settings of the
    released code; ``"demo"`` is a small CPU-friendly run on synthetic data; ``"paper"`` exists
    where a paper's stated setting differs from its code. `presets` lists them.

    Attributes:
        method: Name of the method (class-level, e.g. ``"mcja"``).
        preset_name: Preset the recipe came from (``"custom"`` after free construction).
        dataset: ``"sysu"``, ``"regdb"`` or ``"llcm"``.
        image_size: Training and test input ``(height, width)``.
        augment: [`vireid.augment.BatchAugment`][vireid.augment.BatchAugment] recipe: ``"mcja"``,
            ``"agw"`` or ``"caj"`` (CAJ's three streams,
            [`vireid.augment.CAJStreams`][vireid.augment.CAJStreams]: two views of every visible
            image).
        vimc_p: With ``augment="mcja"``, the probability that a visible image's VIMC operation
            is applied (0.5 in MCJA: half the visible images keep their colours; 1.0: every
            visible image goes through weighted grayscale, cross-channel cutmix, spectrum
            jitter or hue jitter). See `BatchAugment`.
        sampler: Variant of the
            [`CrossModalityIdentitySampler`][vireid.data.CrossModalityIdentitySampler].
        ids_per_batch: P, identities per batch (per process under DDP).
        num_instances: K, images per identity (per modality for ``"agw_pk"``).
        arch: Backbone, ``"resnet18"``, ``"resnet34"`` or ``"resnet50"``.
        width: Backbone stem width (64 = torchvision's network).
        pretrained: ``"imagenet"`` (torchvision's IMAGENET1K_V1, downloaded on first use), a
            local state-dict path, or ``None`` (random initialisation).
        last_stride: Stride of the backbone's ``layer4``.
        optimizer: ``"sgd"``, ``"adam"`` or ``"adamw"``.
        lr: Learning rate of the backbone parameter group.
        head_lr: Learning rate of the head group (BN neck and classifier); ``None`` = ``lr``.
        weight_decay: L2 weight decay (coupled for SGD/Adam, decoupled for AdamW).
        momentum: SGD momentum.
        nesterov: SGD Nesterov momentum.
        betas: Adam betas.
        epochs: Training epochs.
        warmup_epochs: Linear warm-up length; the factor is ``(e + 1) / warmup_epochs`` in
            epoch ``e`` (AGW) or the same ramp per iteration (``warmup_granularity="step"``).
        warmup_granularity: ``"epoch"`` (the references) or ``"step"``.
        schedule: ``"multistep"`` (×``gamma`` at each milestone, per epoch) or ``"cosine"``
            (per iteration, from the end of the warm-up down to ``min_lr_factor``).
        milestones: Epochs at which the multistep schedule multiplies the LR by ``gamma``.
        gamma: Multistep factor.
        min_lr_factor: Final LR of the cosine schedule, as a fraction of the peak.
        eval_interval: Validate every this many epochs (and after the last one).
        eval_start: First epoch (1-based count of finished epochs) that may be validated.
        selection: ``"val"``: keep the checkpoint with the best validation score on held-out
            identities (SYSU-MM01: ``exp/val_id.txt``, which is then not trained on);
            ``"last"``: train on train ∪ val and keep the last epoch. Never the test set.
        select_metric: Validation score for ``"val"``: ``"mAP"``, ``"rank1"`` or ``"mINP"``.
        seed: Seed of the model initialisation (`build_model`), the sampler and the
            augmentation.
    """

    method: ClassVar[str] = ""

    preset_name: str = "custom"
    dataset: str = "sysu"
    image_size: tuple[int, int] = (288, 144)
    augment: str = "agw"
    vimc_p: float = 0.5
    sampler: str = "agw_pk"
    ids_per_batch: int = 8
    num_instances: int = 4
    arch: str = "resnet50"
    width: int = 64
    pretrained: str | None = "imagenet"
    last_stride: int = 1
    optimizer: str = "sgd"
    lr: float = 0.01
    head_lr: float | None = None
    weight_decay: float = 5e-4
    momentum: float = 0.9
    nesterov: bool = True
    betas: tuple[float, float] = (0.9, 0.999)
    epochs: int = 80
    warmup_epochs: int = 0
    warmup_granularity: str = "epoch"
    schedule: str = "multistep"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    min_lr_factor: float = 0.0
    eval_interval: int = 1
    eval_start: int = 0
    selection: str = "val"
    select_metric: str = "mAP"
    seed: int = 0

    # --- construction and checks ----------------------------------------------------------

    def __post_init__(self) -> None:
        for f in fields(self):
            self._check_field(f.name, getattr(self, f.name))
        h, w = self.image_size
        if self.warmup_epochs > self.epochs:
            raise ValueError(
                f"warmup_epochs ({self.warmup_epochs}) must not exceed epochs ({self.epochs})"
            )
        if list(self.milestones) != sorted(set(self.milestones)):
            raise ValueError(f"milestones must be strictly increasing, got {self.milestones}")
        if self.sampler == "idkl_random" and self.num_instances % 2:
            raise ValueError(
                f"num_instances must be even for sampler='idkl_random', got {self.num_instances}"
            )
        if self.width != 64 and self.pretrained is not None:
            raise ValueError(
                f"pretrained weights exist only for width=64, got width={self.width} with "
                f"pretrained={self.pretrained!r}; set pretrained=None"
            )
        if self.augment != "mcja" and self.vimc_p != 0.5:
            raise ValueError(
                f"vimc_p only applies to augment='mcja', got vimc_p={self.vimc_p!r} with "
                f"augment={self.augment!r}"
            )
        for name in ("min_lr_factor", "momentum", "vimc_p", *(f"betas[{i}]" for i in range(2))):
            value = self.betas[int(name[-2])] if name.startswith("betas") else getattr(self, name)
            if not value <= 1.0:
                raise ValueError(f"recipe field {name!r} must be <= 1, got {value!r}")
        if h < 32 or w < 16:
            raise ValueError(f"image_size must be at least (32, 16), got {self.image_size}")

    def _check_field(self, name: str, value: Any) -> None:
        hint = _field_types(type(self))[name]
        if not _matches(value, hint):
            raise TypeError(
                f"recipe field {name!r} must be {_describe(hint)}, got {value!r} "
                f"({type(value).__name__})"
            )
        if name in _CHOICES and value not in _CHOICES[name]:
            options = ", ".join(map(repr, _CHOICES[name]))
            raise ValueError(f"recipe field {name!r} must be one of {options}, got {value!r}")
        choices = type(self)._choices().get(name)
        if choices is not None and value not in choices:
            options = ", ".join(map(repr, choices))
            raise ValueError(f"recipe field {name!r} must be one of {options}, got {value!r}")
        if isinstance(value, bool):
            return
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"recipe field {name!r} must be finite, got {value!r}")
        if isinstance(value, (int, float)) and name not in type(self)._signed():
            minimum = 1 if name in _POSITIVE_INTS else 0
            if value < minimum or value != value:
                raise ValueError(f"recipe field {name!r} must be >= {minimum}, got {value!r}")
            if name in _POSITIVE_FLOATS and not value > 0:
                raise ValueError(f"recipe field {name!r} must be > 0, got {value!r}")
        if isinstance(value, tuple) and any(
            isinstance(v, (int, float))
            and not isinstance(v, bool)
            and (not math.isfinite(v) or v < (0 if name == "betas" else 1))
            for v in value
        ):
            what = "values in [0, 1]" if name == "betas" else "positive values"
            raise ValueError(f"recipe field {name!r} must hold {what}, got {value!r}")

    @classmethod
    def _choices(cls) -> dict[str, tuple[object, ...]]:
        """Allowed values of the subclass's own fields (overridden by methods)."""
        return {}

    @classmethod
    def _signed(cls) -> frozenset[str]:
        """Numeric fields that may be negative (none in the base recipe)."""
        return frozenset()

    # --- presets ----------------------------------------------------------------------------

    @classmethod
    def _preset_values(cls, name: str, dataset: str) -> dict[str, Any]:
        """Field values of preset ``name`` for ``dataset`` (implemented by each method)."""
        raise NotImplementedError

    @classmethod
    def presets(cls) -> dict[str, tuple[str, ...]]:
        """Preset names with the datasets each supports, e.g. ``{"reference": ("sysu", ...)}``."""
        raise NotImplementedError

    @classmethod
    def preset(cls, name: str = "reference", dataset: str = "sysu", **overrides: Any) -> Recipe:
        """A named preset, optionally with fields replaced.

        Args:
            name: Preset name (see `presets`).
            dataset: ``"sysu"``, ``"regdb"`` or ``"llcm"``.
            **overrides: Fields to replace (checked like every recipe value).

        Raises:
            ValueError: an unknown preset, or one not defined for ``dataset``.
        """
        available = cls.presets()
        if name not in available:
            raise ValueError(
                f"{cls.method.upper()} has no preset {name!r}; available: "
                f"{', '.join(map(repr, available))}"
            )
        if dataset not in available[name]:
            raise ValueError(
                f"{cls.method.upper()} preset {name!r} is defined for datasets "
                f"{', '.join(map(repr, available[name]))}, not {dataset!r}"
            )
        values = cls._preset_values(name, dataset)
        return cls(preset_name=name, dataset=dataset, **{**values, **overrides})

    def replace(self, **overrides: Any) -> Recipe:
        """A copy with some fields changed; every value is checked again.

        Raises:
            TypeError: an unknown field name or a value of the wrong type.
            ValueError: a value out of range.
        """
        names = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(
                f"{type(self).__name__} has no field(s) {unknown}; fields: {sorted(names)}"
            )
        return dataclasses.replace(self, **overrides)

    def with_strings(self, assignments: Mapping[str, str]) -> Recipe:
        """`replace` from ``{"field": "text"}`` (command-line overrides such as ``lr=0.01``).

        Text is parsed by the field's type: numbers, ``true``/``false``, ``none``, and
        comma-separated tuples (``image_size=128,64``, ``milestones=20,50``).
        """
        hints = _field_types(type(self))
        parsed = {}
        for name, text in assignments.items():
            if name not in hints or name == "method":
                raise TypeError(
                    f"{type(self).__name__} has no field {name!r}; fields: "
                    f"{sorted(f.name for f in fields(self))}"
                )
            parsed[name] = _parse(text, hints[name], name)
        return self.replace(**parsed)

    # --- what the engine builds from a recipe --------------------------------------------------

    def build_model(self, num_classes: int) -> nn.Module:
        """The method's network for ``num_classes`` training identities, initialised from ``seed``.

        The initialisation draws from a generator seeded with ``recipe.seed`` inside
        ``torch.random.fork_rng``, so the same recipe always gives the same initial weights and
        the caller's global random state is left as it was.
        """
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return self._make_model(num_classes)

    def _make_model(self, num_classes: int) -> nn.Module:
        """Build the network (implemented by each method)."""
        raise NotImplementedError

    def build_criterion(self) -> nn.Module:
        """The method's criterion ``(output, labels, modalities) -> dict of terms``."""
        raise NotImplementedError

    def build_augment(self, generator: torch.Generator | None = None) -> nn.Module:
        """The batched training augmentation ``augment(images, modalities)`` of this recipe.

        A [`vireid.augment.BatchAugment`][vireid.augment.BatchAugment] of ``augment`` (and
        ``vimc_p``), or for ``augment="caj"`` the
        [`vireid.augment.CAJStreams`][vireid.augment.CAJStreams], which return more images than
        were sampled. A method with its own views overrides this method.
        """
        if self.augment == "caj":
            return CAJStreams(self.image_size, generator=generator)
        return BatchAugment(
            one_of(self.augment, ("mcja", "caj", "agw"), "recipe.augment"),
            size=self.image_size,
            vimc_p=self.vimc_p,
            generator=generator,
        )

    @property
    def batch_size(self) -> int:
        """Images per step and process: 2·P·K for ``"agw_pk"``, P·K otherwise."""
        return self.ids_per_batch * self.num_instances * (2 if self.sampler == "agw_pk" else 1)

    # --- serialisation and printing ----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every field (and the method), JSON-serialisable (tuples become lists)."""
        out: dict[str, Any] = {"method": self.method}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipe:
        """Inverse of `to_dict` (e.g. the recipe stored in a checkpoint).

        Raises:
            ValueError: the dict belongs to another method.
            TypeError: unknown fields or values of the wrong type.
        """
        data = dict(data)
        method = data.pop("method", cls.method)
        if method != cls.method:
            raise ValueError(
                f"this recipe is for method {method!r}, not {cls.method!r} ({cls.__name__})"
            )
        hints = _field_types(cls)
        unknown = sorted(set(data) - set(hints))
        if unknown:
            raise TypeError(f"{cls.__name__} has no field(s) {unknown}")
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        return cls(**values)

    def __str__(self) -> str:
        own = [f.name for f in fields(self)]
        listed = {name for _, names in _SECTIONS for name in names}
        sections = [*_SECTIONS, (self.method, tuple(n for n in own if n not in listed))]
        width = max(len(n) for n in own) + 2
        lines = [f"{type(self).__name__}"]
        for title, names in sections:
            lines.append(f"  [{title}]")
            for name in names:
                value = self.method if name == "method" else getattr(self, name)
                lines.append(f"    {name:<{width}}{_show(value)}")
        return "\n".join(lines)


_POSITIVE_INTS = frozenset(
    {"ids_per_batch", "num_instances", "width", "last_stride", "epochs", "eval_interval"}
)
_POSITIVE_FLOATS = frozenset({"lr", "head_lr"})


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")" if value else "()"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is bool:
        return isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(
            _matches(v, a) for v, a in zip(value, args, strict=True)
        )
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "None"
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a tuple of {_describe(args[0])}"
        return f"a tuple ({', '.join(_describe(a) for a in args)})"
    return getattr(hint, "__name__", str(hint))


def _parse(text: str, hint: Any, name: str) -> Any:
    """Parse command-line text into a value of type ``hint``."""
    text = text.strip()
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if type(None) in args and text.lower() in ("none", "null", ""):
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _parse(text, arg, name)
            except ValueError as err:
                errors.append(str(err))
        raise ValueError("; ".join(errors))
    if origin is tuple:
        args = typing.get_args(hint)
        parts = [p for p in text.replace("x", ",").split(",") if p.strip()] if text else []
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_parse(p, args[0], name) for p in parts)
        if len(parts) != len(args):
            raise ValueError(f"{name} needs {len(args)} comma-separated values, got {text!r}")
        return tuple(_parse(p, a, name) for p, a in zip(parts, args, strict=True))
    if hint is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name} must be true or false, got {text!r}")
    if hint is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{name} must be an integer, got {text!r}") from None
    if hint is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {text!r}") from None
    return text
