"""torchvision ResNets as re-identification backbones with named stages and insertion points.

The stage layout serves the assemblies of the released codes of IDKL (Ren & Zhang, CVPR 2024:
dual-stream split, last stride 1), MCJA (Liang et al., TCSVT 2024: MDA placement, last stride 2),
AGW (Ye et al., TPAMI 2021: modality-specific stems) and EMIF (modality-specific ``layer4``
branches).
"""

from __future__ import annotations

import copy
import numbers
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Literal, TypeAlias, cast

import torch
import torchvision
from torch import nn
from torchvision.models import ResNet18_Weights, ResNet34_Weights, ResNet50_Weights, WeightsEnum
from torchvision.models.resnet import BasicBlock, Bottleneck

from vireid.nn._checks import check_float_tensor

__all__ = ["STAGES", "ResNet", "resnet18", "resnet34", "resnet50"]

STAGES: tuple[str, ...] = ("stem", "layer1", "layer2", "layer3", "layer4")
"""Stage names in forward order: ``stem`` (conv1, bn1, relu, maxpool), then the four layers."""

Pretrained: TypeAlias = bool | str | os.PathLike[str] | WeightsEnum | None
"""What the ``pretrained`` argument of `resnet18` / `resnet34` / `resnet50` accepts: ``False`` or
``None`` (random initialisation), ``True``, a torchvision weights member, or a local path."""

_ARCHS: dict[str, tuple[type[nn.Module], tuple[int, ...], type[WeightsEnum]]] = {
    "resnet18": (BasicBlock, (2, 2, 2, 2), ResNet18_Weights),
    "resnet34": (BasicBlock, (3, 4, 6, 3), ResNet34_Weights),
    "resnet50": (Bottleneck, (3, 4, 6, 3), ResNet50_Weights),
}


class ResNet(nn.Module):
    """A torchvision ResNet without its classifier, organised in named stages.

    ```text
    stem ─► layer1 ─► layer2 ─► layer3 ─► layer4          (STAGES)
    3→64    64→256    256→512   512→1024  1024→2048       (ResNet-50 channels)
    /4      /1        /2        /2        /last_stride    (spatial stride per stage)
    ```

    Module names and state dict keys are torchvision's (``conv1.weight``, ``layer3.2.bn1.bias``,
    …) minus ``fc``, so ImageNet checkpoints load by name and checkpoints stay portable. Two
    hooks serve the VI-ReID assemblies:

    * **Slicing** — `slice` returns the stages ``start..end`` as a ResNet of their own, sharing or
      (``copy=True``) copying the weights: IDKL's dual stream is ``slice("stem", "layer2")`` + two
      ``slice("layer3", "layer4", copy=True)``; AGW's modality-specific stems are two
      ``slice("stem", "stem", copy=True)`` in front of a shared ``slice("layer1", "layer4")``.
    * **Insertion** — `insert_after` / `insert_after_last` run an extra module after
      a given residual block (MCJA puts an MDA after the last 2 blocks of ``layer2`` and the
      last 3 of ``layer3``). Inserted modules live under
      ``inserted.<stage>.<block>`` and leave the backbone's own keys untouched.

    ``last_stride=1`` sets the stride of ``layer4``'s first block (its strided conv and its
    downsample conv) to 1, doubling the final map (24×12 instead of 12×6 at 384×192), as IDKL
    and AGW do; MCJA keeps 2.

    ``width`` scales every stage: the stem has ``width`` channels and stage ``i`` has
    ``width · 2^(i−1)`` (times 4 for bottlenecks). The default 64 is torchvision's network, the
    only width pretrained weights exist for; a thinner network (``width=32`` costs about a
    quarter of the FLOPs) is what makes a from-scratch demo train in minutes on a CPU.

    Build instances with `resnet18`, `resnet34` or `resnet50`, which also load
    pretrained weights.

    Args:
        arch: ``"resnet18"``, ``"resnet34"`` or ``"resnet50"``. Default ``"resnet50"``.
        last_stride: 1 or 2. Default 2 (torchvision's network unchanged).
        width: Channels of the stem, a positive multiple of 8. Default 64 (torchvision).

    Shape:
        - Input: ``(B, C_in, H, W)``, ``C_in`` the input channels of the first stage held
          (3 for the stem); any memory format, float dtype of the weights.
        - Output: ``(B, C_out, H', W')`` from the last stage held (2048 for a ResNet-50
          ``layer4``; ``H' = H/32, W' = W/32`` with last stride 2, ``/16`` with 1).
    """

    def __init__(
        self, arch: str = "resnet50", last_stride: Literal[1, 2] = 2, width: int = 64
    ) -> None:
        super().__init__()
        if arch not in _ARCHS:
            raise ValueError(f"arch must be one of {sorted(_ARCHS)}, got {arch!r}")
        if isinstance(last_stride, bool) or last_stride not in (1, 2):
            raise ValueError(f"last_stride must be 1 or 2, got {last_stride!r}")
        width = _check_width(width)
        block, layers, _ = _ARCHS[arch]
        net = torchvision.models.resnet.ResNet(block, list(layers))
        if width != 64:
            _rescale(net, block, layers, width)
        self.arch = arch
        self.last_stride = int(last_stride)
        self.width = width
        self.stage_names: tuple[str, ...] = STAGES
        expansion = 4 if block is Bottleneck else 1
        # Output channels of every stage, kept whole in slices so they know their input width.
        self.stage_channels: dict[str, int] = {"stem": width}
        for i in range(1, 5):
            self.stage_channels[f"layer{i}"] = width * 2 ** (i - 1) * expansion
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            net.layer1,
            net.layer2,
            net.layer3,
            net.layer4,
        )
        if self.last_stride == 1:
            first = self.layer4[0]
            # Bottleneck (v1.5) strides its 3×3 conv2, BasicBlock its conv1; both stride the
            # 1×1 downsample conv.
            strided = first.conv2 if isinstance(first, Bottleneck) else first.conv1
            strided.stride = (1, 1)
            first.downsample[0].stride = (1, 1)
        self.inserted = nn.ModuleDict()

    # --- structure ---------------------------------------------------------------------------

    @property
    def in_channels(self) -> int:
        """Channels expected by the first stage held (3 when the stem is held)."""
        first = STAGES.index(self.stage_names[0])
        return 3 if first == 0 else self.stage_channels[STAGES[first - 1]]

    @property
    def out_channels(self) -> int:
        """Channels produced by the last stage held (2048 for a ResNet-50 ending in layer4)."""
        return self.stage_channels[self.stage_names[-1]]

    def stage(self, name: str) -> nn.Module:
        """The module of one stage, sharing its parameters with this network.

        A residual layer is its ``Sequential`` of blocks; the stem is a new ``Sequential`` of
        conv1, bn1, relu and maxpool. Inserted modules are not part of it; use `slice`
        to keep them.
        """
        self._check_stage(name)
        if name == "stem":
            return nn.Sequential(self.conv1, self.bn1, self.relu, self.maxpool)
        return getattr(self, name)

    def _check_stage(self, name: object) -> str:
        if not isinstance(name, str) or name not in self.stage_names:
            raise ValueError(f"stage must be one of {list(self.stage_names)}, got {name!r}")
        return name

    def slice(self, start: str = "stem", end: str = "layer4", copy: bool = False) -> ResNet:
        """The stages ``start`` to ``end`` (inclusive) as a ResNet of their own.

        The slice keeps torchvision's key names for the stages it holds (``layer3.0.conv1.
        weight``, …) and the modules inserted into them, so pretrained weights load into it
        by name (``strict=False`` for the stages it lacks).

        Args:
            start: First stage held. Default ``"stem"``.
            end: Last stage held. Default ``"layer4"``.
            copy: Deep-copy the weights (an independent branch, e.g. IDKL's specific
                ``layer3``–``layer4``). Default ``False``: the slice shares parameters with
                this network, and training either trains both. Either way, modules inserted
                into one of the two networks *after* slicing do not appear in the other.

        Returns:
            A `ResNet` holding ``STAGES[start..end]``.

        Raises:
            ValueError: If a stage is not held by this network or ``end`` precedes ``start``.
        """
        self._check_stage(start)
        self._check_stage(end)
        i, j = self.stage_names.index(start), self.stage_names.index(end)
        if j < i:
            raise ValueError(f"end stage {end!r} comes before start stage {start!r}")
        names = self.stage_names[i : j + 1]
        part = ResNet.__new__(ResNet)
        nn.Module.__init__(part)
        part.arch, part.last_stride, part.width = self.arch, self.last_stride, self.width
        part.stage_names = names
        part.stage_channels = dict(self.stage_channels)
        for name in names:
            if name == "stem":
                part.conv1, part.bn1 = self.conv1, self.bn1
                part.relu, part.maxpool = self.relu, self.maxpool
            else:
                setattr(part, name, getattr(self, name))
        part.inserted = nn.ModuleDict(
            {n: nn.ModuleDict(dict(self._insertions(n))) for n in names if n in self.inserted}
        )
        part.train(self.training)
        return _deepcopy(part) if copy else part

    # --- insertion -----------------------------------------------------------------------------

    def insert_after(self, stage: str, block: int, module: nn.Module) -> None:
        """Run ``module`` on the output of residual block ``block`` of ``stage``.

        Its output feeds the next block (or leaves the stage after the last one). The module is
        registered as ``inserted.<stage>.<block>`` (``block`` made non-negative), so its state
        dict keys are ``inserted.layer2.2.<name>``.

        Args:
            stage: ``"layer1"`` … ``"layer4"`` (the stem has no residual blocks).
            block: Block index within the stage; negative indices count from the end.
            module: Any module mapping ``(B, C, H, W)`` to the same shape, ``C =
                stage_channels[stage]``.

        Raises:
            TypeError: If ``module`` is not an ``nn.Module`` or ``block`` is not an int.
            ValueError: If the stage or block does not exist or already has a module.
        """
        self._check_stage(stage)
        if stage == "stem":
            raise ValueError("stage must be a residual layer ('layer1'..'layer4'), got 'stem'")
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
        if isinstance(block, bool) or not isinstance(block, numbers.Integral):
            raise TypeError(f"block must be an int, got {type(block).__name__}")
        depth = len(getattr(self, stage))
        if not -depth <= block < depth:
            raise ValueError(f"block must lie in [{-depth}, {depth}) for {stage}, got {block}")
        key = str(block % depth)
        if stage not in self.inserted:
            self.inserted[stage] = nn.ModuleDict()
        if key in self._insertions(stage):
            raise ValueError(f"block {key} of {stage} already has an inserted module")
        self._insertions(stage)[key] = module

    def insert_after_last(
        self, stage: str, count: int, factory: Callable[[int], nn.Module]
    ) -> list[nn.Module]:
        """Insert ``factory(channels)`` after each of the last ``count`` blocks of ``stage``.

        MCJA's layout:

        ```python
        mda = lambda c: ModalityDistributionAdapter(c, num_masks=2)
        backbone.insert_after_last("layer2", 2, mda)  # after layer2.2 and layer2.3
        backbone.insert_after_last("layer3", 3, mda)  # after layer3.3, .4 and .5
        ```

        Args:
            stage: ``"layer1"`` … ``"layer4"``.
            count: Number of trailing blocks, ``1 ≤ count ≤`` the stage depth.
            factory: Called once per block with the stage's channel count; each call must
                return a new module (no sharing between positions).

        Returns:
            The inserted modules, in block order.

        Raises:
            TypeError: If ``count`` is not an int or ``factory`` is not callable.
            ValueError: If ``count`` is out of range (or see `insert_after`).
        """
        self._check_stage(stage)
        if stage == "stem":
            raise ValueError("stage must be a residual layer ('layer1'..'layer4'), got 'stem'")
        if isinstance(count, bool) or not isinstance(count, numbers.Integral):
            raise TypeError(f"count must be an int, got {type(count).__name__}")
        if not callable(factory):
            raise TypeError(f"factory must be callable, got {type(factory).__name__}")
        depth = len(getattr(self, stage))
        if not 1 <= count <= depth:
            raise ValueError(f"count must lie in [1, {depth}] for {stage}, got {count}")
        modules = []
        for block in range(depth - count, depth):
            module = factory(self.stage_channels[stage])
            if any(module is m for m in modules):
                raise ValueError("factory must return a new module on every call")
            self.insert_after(stage, block, module)
            modules.append(module)
        return modules

    def named_insertions(self) -> Iterator[tuple[str, int, nn.Module]]:
        """Yield ``(stage, block, module)`` for every inserted module, in forward order."""
        for stage in self.stage_names:
            if stage in self.inserted:
                table = self._insertions(stage)
                for key in sorted(table, key=int):
                    yield stage, int(key), table[key]

    def _insertions(self, stage: str) -> nn.ModuleDict:
        """The modules inserted into ``stage`` (one that has some), keyed by block index."""
        # `inserted` maps each stage to a ModuleDict (`insert_after` and `slice` write it).
        return cast(nn.ModuleDict, self.inserted[stage])

    # --- forward -------------------------------------------------------------------------------

    def _run(self, name: str, x: torch.Tensor) -> torch.Tensor:
        if name == "stem":
            return self.maxpool(self.relu(self.bn1(self.conv1(x))))
        layer = getattr(self, name)
        if name not in self.inserted:
            return layer(x)
        extra = self._insertions(name)
        for i, block in enumerate(layer):
            x = block(x)
            if str(i) in extra:
                x = extra[str(i)](x)
        return x

    def _check_input(self, x: object) -> torch.Tensor:
        x = check_float_tensor(x)
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"x must have shape (B, {self.in_channels}, H, W) for a network starting at "
                f"{self.stage_names[0]!r}, got {tuple(x.shape)}"
            )
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run every stage held (and the inserted modules) on ``x``; returns the last map."""
        x = self._check_input(x)
        for name in self.stage_names:
            x = self._run(name, x)
        return x

    def forward_stages(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Like `forward`, but return every stage's output, keyed by stage name."""
        x = self._check_input(x)
        outputs = {}
        for name in self.stage_names:
            x = outputs[name] = self._run(name, x)
        return outputs

    def extra_repr(self) -> str:
        """Settings shown in ``repr(module)``."""
        width = f", width={self.width}" if self.width != 64 else ""
        return (
            f"arch={self.arch!r}, last_stride={self.last_stride}{width}, stages={self.stage_names}"
        )


def _check_width(width: object) -> int:
    if isinstance(width, bool) or not isinstance(width, numbers.Integral):
        raise TypeError(f"width must be an int, got {type(width).__name__}")
    if width <= 0 or width % 8:
        raise ValueError(f"width must be a positive multiple of 8, got {width}")
    return int(width)


def _rescale(
    net: torchvision.models.resnet.ResNet,
    block: type[nn.Module],
    layers: tuple[int, ...],
    width: int,
) -> None:
    """Rebuild the stem and the four layers of ``net`` with ``width`` base channels.

    torchvision fixes the base width at 64; its own ``_make_layer`` builds the scaled layers,
    so the module names, block structure and initialisation stay torchvision's.
    """
    net.inplanes = width
    net.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
    net.bn1 = nn.BatchNorm2d(width)
    for i, depth in enumerate(layers, start=1):
        stride = 1 if i == 1 else 2
        setattr(net, f"layer{i}", net._make_layer(block, width * 2 ** (i - 1), depth, stride))
    # The initialisation torchvision's constructor applies to every conv and BN.
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _deepcopy(module: ResNet) -> ResNet:
    # Module-level helper: inside ResNet.slice the argument ``copy`` shadows the module.
    return copy.deepcopy(module)


# --- pretrained weights ------------------------------------------------------------------------


def _read_state_dict(
    arch: str, pretrained: Pretrained, progress: bool
) -> Mapping[str, torch.Tensor] | None:
    weights_cls = _ARCHS[arch][2]
    if pretrained is None or pretrained is False:
        return None
    if pretrained is True:
        # The original torchvision release, the weights IDKL, MCJA and AGW start from.
        pretrained = weights_cls.IMAGENET1K_V1
    if isinstance(pretrained, WeightsEnum):
        if not isinstance(pretrained, weights_cls):
            raise ValueError(
                f"pretrained must be a {weights_cls.__name__} member for {arch}, "
                f"got {type(pretrained).__name__}.{pretrained.name}"
            )
        try:
            return pretrained.get_state_dict(progress=progress, check_hash=True)
        except Exception as err:
            raise RuntimeError(
                f"could not load torchvision weights {weights_cls.__name__}."
                f"{pretrained.name} from {pretrained.url} ({type(err).__name__}: {err}). "
                "When offline, download that file elsewhere and pass its local path, e.g. "
                f"{arch}(pretrained='/path/to/{pretrained.url.rsplit('/', 1)[-1]}')"
            ) from err
    if isinstance(pretrained, (str, os.PathLike)):
        path = Path(pretrained).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"pretrained weights file {str(path)!r} does not exist; pass a local state dict "
                f"path, or a {weights_cls.__name__} member to use torchvision's download"
            )
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise RuntimeError(
                f"could not read pretrained weights from {str(path)!r} "
                f"({type(err).__name__}: {err})"
            ) from err
        if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
            state = state["state_dict"]
        if not isinstance(state, Mapping):
            raise RuntimeError(
                f"{str(path)!r} must hold a state dict (a mapping of names to tensors), "
                f"got {type(state).__name__}"
            )
        return state
    raise TypeError(
        "pretrained must be False/None, True, a path to a state dict or a "
        f"{weights_cls.__name__} member, got {type(pretrained).__name__}"
    )


def _build(
    arch: str, pretrained: Pretrained, last_stride: Literal[1, 2], progress: bool, width: int
) -> ResNet:
    width = _check_width(width)
    if width != 64 and pretrained not in (None, False):
        raise ValueError(
            f"pretrained weights exist only for width=64 (torchvision's {arch}), got width={width}"
            "; train a thinner network from scratch with pretrained=False"
        )
    state = _read_state_dict(arch, pretrained, progress)
    model = ResNet(arch, last_stride=last_stride, width=width)
    if state is not None:
        # torchvision's ImageNet classifier has no counterpart here.
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise RuntimeError(f"pretrained weights do not fit a {arch} backbone: {err}") from err
    return model


def resnet18(
    pretrained: Pretrained = False,
    last_stride: Literal[1, 2] = 2,
    progress: bool = True,
    *,
    width: int = 64,
) -> ResNet:
    """ResNet-18 backbone (512-d output); small enough for CPU demos and tests.

    Args:
        pretrained: ``False``/``None`` (default, random init), ``True`` (torchvision's
            ``IMAGENET1K_V1``), a `torchvision.models.ResNet18_Weights` member, or a
            path to a local state dict (torchvision layout; ``fc.*`` entries are ignored).
        last_stride: Stride of ``layer4``: 2 (default) or 1.
        progress: Show torchvision's download progress bar.
        width: Stem channels (a multiple of 8); 64 (default) is torchvision's network. A
            thinner network trains from scratch only (``pretrained=False``).

    Parameter counts: 11,176,512 at width 64; 2,798,880 at width 32.

    Returns:
        A `ResNet` with all five stages.

    Raises:
        FileNotFoundError: If a path is given that does not exist.
        RuntimeError: If a download fails (e.g. offline) or the weights do not fit.
        ValueError: If pretrained weights are asked for a width other than 64.
    """
    return _build("resnet18", pretrained, last_stride, progress, width)


def resnet34(
    pretrained: Pretrained = False,
    last_stride: Literal[1, 2] = 2,
    progress: bool = True,
    *,
    width: int = 64,
) -> ResNet:
    """ResNet-34 backbone (512-d output); arguments (``width`` included) as `resnet18`.

    Raises:
        FileNotFoundError: If a path is given that does not exist.
        RuntimeError: If a download fails (e.g. offline) or the weights do not fit.
    """
    return _build("resnet34", pretrained, last_stride, progress, width)


def resnet50(
    pretrained: Pretrained = False,
    last_stride: Literal[1, 2] = 2,
    progress: bool = True,
    *,
    width: int = 64,
) -> ResNet:
    """ResNet-50 backbone (2048-d output), the backbone of IDKL, MCJA, AGW and EMIF.

    Pretrained weights are opt-in and never fetched at import time. ``True`` means torchvision's
    original release ``IMAGENET1K_V1`` — downloaded by current torchvision as
    ``resnet50-0676ba61.pth``, by older releases (and the reference codes of IDKL and MCJA) as
    ``resnet50-19c8e357.pth``; ``IMAGENET1K_V2`` is a different, later
    recipe. Offline, pass the path of such a file (any state dict in torchvision's layout):

    ```python
    backbone = resnet50(pretrained="~/weights/resnet50-19c8e357.pth", last_stride=1)
    ```

    A failed download raises `RuntimeError` naming the URL and the local-path
    alternative; the network is never silently left at random initialisation.

    Args:
        pretrained: ``False``/``None`` (default), ``True``, a
            `torchvision.models.ResNet50_Weights` member, or a local path.
        last_stride: Stride of ``layer4``: 2 (default, MCJA) or 1 (IDKL, AGW).
        progress: Show torchvision's download progress bar.
        width: Stem width, a multiple of 8; 64 (default) is torchvision's network.

    Returns:
        A `ResNet` with all five stages.

    Raises:
        FileNotFoundError: If a path is given that does not exist.
        RuntimeError: If a download fails (e.g. offline) or the weights do not fit.
    """
    return _build("resnet50", pretrained, last_stride, progress, width)
