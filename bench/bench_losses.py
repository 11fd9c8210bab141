"""L1DFL forward + backward against MONAI DiceFocalLoss and the published L1DFL, same tensors.

Run: ``python bench/bench_losses.py [--size 96] [--reps 10] [--threads 2] [--clock wall|cpu]``. Prints the median
time per forward + backward and the ratios; nothing is asserted. The published implementation
(ObedDzik/pca_segment ``segmentation/losses.py`` ``L1DFL``, the vectorised versions) is
written out below from its description in ``shared/notes/seed_code.md`` §4.2.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from monai.losses import DiceFocalLoss, FocalLoss
from monai.networks.utils import one_hot
from torch import nn

from segengine.losses import L1DiceFocalLoss


class PublishedL1DFL(nn.Module):
    """pca_segment L1DFL (bucketize + scatter_add version), re-typed for the benchmark."""

    def __init__(self, gamma: float = 2.0, epsilon: float = 0.05) -> None:
        super().__init__()
        self.epsilon = epsilon
        self.focal = FocalLoss(gamma=gamma, use_softmax=True, to_onehot_y=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        p = torch.softmax(logits, dim=1)
        g = one_hot(target, num_classes=logits.shape[1])
        delta = (p - g).abs().flatten()
        n = delta.numel()
        centres = torch.linspace(0, 1, int(1 / self.epsilon + 1), device=logits.device)
        left = (centres - self.epsilon / 2).clamp(min=0)
        right = (centres + self.epsilon / 2).clamp(max=1)
        width = right - left
        idx = (torch.bucketize(delta, left, right=True) - 1).clamp(0, len(centres) - 1)
        counts = torch.zeros_like(centres).scatter_add(0, idx, torch.ones_like(delta))
        density = counts / width
        beta = torch.where(density > 0, n / density, torch.zeros_like(density))
        w = beta[idx].view_as(p)
        dims = tuple(range(2, p.ndim))
        intersection = (w * p * g).sum(dims)
        denominator = (w * (p**2 + g**2)).sum(dims)
        dice = 1 - ((2 * intersection + 1e-8) / (denominator + 1e-8)).mean()
        return dice + self.focal(logits, g)


def time_losses(
    losses: dict[str, nn.Module],
    logits: torch.Tensor,
    labels: torch.Tensor,
    reps: int,
    clock=time.perf_counter,
) -> dict[str, float]:
    """Median seconds of forward + backward per loss, the losses interleaved in every round.

    Interleaving keeps the ratios fair when the machine's load drifts during the run; the
    process CPU clock (``time.process_time``) counts only this process's work on a shared,
    busy machine (use it with one thread: idle OpenMP threads spin and bill CPU time).
    """
    times: dict[str, list[float]] = {name: [] for name in losses}
    for i in range(reps + 2):
        for name, loss in losses.items():
            logits.grad = None
            start = clock()
            loss(logits, labels).backward()
            if i >= 2:
                times[name].append(clock() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    args = parser.parse_args()
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    shape = (args.batch, 2, *(args.size,) * 3)
    logits = torch.randn(shape, generator=gen).requires_grad_(True)
    labels = (torch.rand((args.batch, 1, *shape[2:]), generator=gen) < 0.03).float()

    ours = L1DiceFocalLoss(bin_width=0.1, compat="reference")
    published = PublishedL1DFL(epsilon=0.1)
    with torch.no_grad():
        a, b = float(ours(logits, labels)), float(published(logits, labels))
    print(f"value check (kappa 0.1, reference smoothing): ours {a:.6f}, published {b:.6f}")

    losses = {
        "MONAI DiceFocalLoss": DiceFocalLoss(to_onehot_y=True, softmax=True),
        "L1DiceFocalLoss (kappa 0.1)": L1DiceFocalLoss(bin_width=0.1),
        "L1DiceFocalLoss (kappa 0.05)": L1DiceFocalLoss(bin_width=0.05),
        "published L1DFL (kappa 0.1)": published,
        "published L1DFL (kappa 0.05)": PublishedL1DFL(epsilon=0.05),
    }
    times = time_losses(losses, logits, labels, args.reps, clock)
    base = times["MONAI DiceFocalLoss"]
    print(f"shape {shape}, {args.threads} threads, {args.clock} clock, median of {args.reps}")
    for name, t in times.items():
        print(f"{name:30s} {1e3 * t:8.1f} ms  {t / base:5.2f}x DiceFocalLoss")
    for k in ("0.1", "0.05"):
        ratio = times[f"L1DiceFocalLoss (kappa {k})"] / times[f"published L1DFL (kappa {k})"]
        print(f"ours / published (kappa {k}): {ratio:.2f}")


if __name__ == "__main__":
    main()
