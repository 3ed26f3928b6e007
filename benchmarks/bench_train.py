"""Training-step throughput of MCJA, AGW, CAJ, IDKL and EMIF against a plain ResNet-50 baseline.

    python benchmarks/bench_train.py                       # CPU: batch 16 at 288x144
    python benchmarks/bench_train.py --device cuda         # CUDA: batch 64, bf16 + channels_last
    python benchmarks/bench_train.py --out bench_train.json

One training step = forward, the method's criterion, backward and an SGD step, on a batch of
P identities × K visible + K infrared images (random data; decoding and augmentation are the
same for every model and left out). The baseline is the plain network every method starts from:
ResNet-50 (last stride 1), GeM, BN neck, bias-free classifier, trained with cross-entropy plus a
batch-hard triplet. Each model runs in its own process, so peak memory (CUDA
``max_memory_allocated``, or the process's peak RSS on a CPU) is its own. Ratios are to the
baseline in the same run. CAJ's step holds a second view of every visible image (3·P·K images
through the network for 2·P·K sampled); img/s counts the images through the network, and the
"sampled/s" column the sampled ones, which is what sets the time of an epoch. IDKL runs its
full objective with the order-free ``"uniform"`` confuser targets (this batch puts each modality
in one block; the released pseudo-labels cost the same).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch
from torch import nn

from vireid.engine import autocast, peak_memory_mb
from vireid.losses import CrossEntropyLabelSmooth, TripletLoss
from vireid.models import (
    AGW,
    EMIF,
    IDKL,
    MCJA,
    AGWLoss,
    EmbeddingHead,
    EMIFLoss,
    IDKLLoss,
    MCJALoss,
    ReIDOutput,
)
from vireid.models.backbones import resnet50


class PlainReID(nn.Module):
    """ResNet-50 + GeM + BN neck + classifier: the network both methods extend."""

    def __init__(self, num_classes: int, last_stride: int) -> None:
        super().__init__()
        self.backbone = resnet50(last_stride=last_stride)
        self.head = EmbeddingHead(2048, num_classes)

    def forward(self, images: torch.Tensor, modalities: torch.Tensor) -> ReIDOutput:
        """Training-mode output; ``modalities`` is unused (one shared network)."""
        pre, post, logits = self.head(self.backbone(images))
        return ReIDOutput(pre, post, logits)


class PlainLoss(nn.Module):
    """Cross-entropy plus a batch-hard triplet (margin 0.3) on the pre-BN feature."""

    def __init__(self) -> None:
        super().__init__()
        self.ce, self.triplet = CrossEntropyLabelSmooth(0.0), TripletLoss(0.3)

    def forward(self, out: ReIDOutput, labels, modalities) -> dict[str, torch.Tensor]:
        """Weighted terms and their sum."""
        terms = {"id": self.ce(out.logits, labels), "triplet": self.triplet(out.pre_bn, labels)}
        terms["total"] = terms["id"] + terms["triplet"]
        return terms


def build(name: str, num_classes: int) -> tuple[nn.Module, nn.Module]:
    if name in ("plain-s1", "plain-s2"):
        return PlainReID(num_classes, int(name[-1])), PlainLoss()
    if name == "mcja":
        return MCJA(num_classes, arch="resnet50"), MCJALoss()
    if name == "agw":
        return AGW(num_classes, arch="resnet50"), AGWLoss()
    if name == "caj":
        return AGW(num_classes, arch="resnet50"), AGWLoss(metric="adp")
    if name == "idkl":
        return IDKL(num_classes, arch="resnet50"), IDKLLoss(confusion="uniform")
    if name == "emif":
        return EMIF(num_classes, arch="resnet50"), EMIFLoss()
    raise ValueError(name)


def measure(name: str, args: argparse.Namespace) -> dict:
    torch.manual_seed(0)
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" and not args.fp32 else None
    model, criterion = build(name, 395)
    model.to(device)
    channels_last = device.type == "cuda"
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    p, k = args.ids, args.batch // (2 * args.ids)
    # CAJ's streams: the visible images twice (weak, channel-exchanged), the infrared once.
    views = 3 if name == "caj" else 2
    labels = torch.arange(p).repeat_interleave(k).repeat(views).to(device)
    modalities = torch.tensor([0] * (p * k) * (views - 1) + [1] * (p * k), device=device)
    h, w = args.size
    images = torch.randn(views * p * k, 3, h, w, device=device)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)

    def step() -> None:
        with autocast(device, dtype):
            terms = criterion(model(images, modalities), labels, modalities)
        opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / args.steps
    return {
        "model": name,
        "seconds_per_step": seconds,
        "images_per_second": images.shape[0] / seconds,
        "sampled_per_second": 2 * p * k / seconds,
        "peak_memory_mb": peak_memory_mb(device),
        "parameters": sum(q.numel() for q in model.parameters()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, help="images per step (default 16 CPU, 64 CUDA)")
    parser.add_argument("--ids", type=int, default=4, help="identities per batch (default 4)")
    parser.add_argument("--size", type=int, nargs=2, default=(288, 144), metavar=("H", "W"))
    parser.add_argument("--steps", type=int, help="timed steps (default 3 CPU, 30 CUDA)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--fp32", action="store_true", help="no bf16 autocast on CUDA")
    parser.add_argument("--out", help="write the results to this JSON file")
    parser.add_argument("--only", help=argparse.SUPPRESS)  # one model, in a child process
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    args.batch = args.batch or (64 if cuda else 16)
    args.steps = args.steps or (30 if cuda else 3)
    if args.only:
        print(json.dumps(measure(args.only, args)))
        return
    rows = []
    for name in ("plain-s1", "plain-s2", "mcja", "agw", "caj", "idkl", "emif"):
        cmd = [sys.executable, __file__, "--only", name, "--device", args.device,
               "--batch", str(args.batch), "--ids", str(args.ids), "--size", *map(str, args.size),
               "--steps", str(args.steps), "--warmup", str(args.warmup)]  # fmt: skip
        if args.fp32:
            cmd.append("--fp32")
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    # MCJA keeps ResNet-50's last stride 2, the others set it to 1: each is compared with the
    # plain network of its own stride.
    base = {r["model"]: r["images_per_second"] for r in rows}
    baseline_of = {"plain-s1": "plain-s1", "plain-s2": "plain-s2", "mcja": "plain-s2"}
    for name in ("agw", "caj", "idkl", "emif"):
        baseline_of[name] = "plain-s1"
    precision = "fp32" if args.fp32 or not cuda else "bf16 + channels_last"
    print(
        f"device {args.device} ({precision}), batch {args.batch}, {args.size[0]}x{args.size[1]}, "
        f"{args.steps} timed steps, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    header = ("model", "img/s", "vs plain", "sampled/s", "baseline", "s/step", "peak MB", "params")
    print(f"{header[0]:<10}" + "".join(f"{h:>12}" for h in header[1:]))
    for r in rows:
        r["baseline"] = baseline_of[r["model"]]
        r["ratio_to_plain"] = r["images_per_second"] / base[r["baseline"]]
        print(
            f"{r['model']:<10}{r['images_per_second']:>12.1f}{r['ratio_to_plain']:>11.2f}x"
            f"{r['sampled_per_second']:>12.1f}{r['baseline']:>12}{r['seconds_per_step']:>12.3f}{r['peak_memory_mb']:>12.0f}"
            f"{r['parameters']:>12,}"
        )
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"device": args.device, "precision": precision, "batch": args.batch,
                       "size": list(args.size), "steps": args.steps,
                       "torch": str(torch.__version__), "rows": rows}, f, indent=2)  # fmt: skip


if __name__ == "__main__":
    main()
