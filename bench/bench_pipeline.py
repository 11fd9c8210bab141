"""Training samples per second: the cached pipeline against the uncached papers' pipeline.

Run: ``python bench/bench_pipeline.py [--cases 3] [--shape 128 128 160] [--patch 96]``.
Writes small synthetic PET/CT cases (PET grid 3.64 x 3.64 x 3.27 mm, CT on the same grid) to a
temporary nnU-Net-style folder, then draws training patches in one process (no workers) with
the same transforms (``train_transforms``, papers' settings: 2 mm, 4:1 patches, affine)
three ways: uncached (every sample loads, crops and resamples its case), memory cache
(CacheDataset) and disk cache (PersistentDataset). Prints samples/s and ratios; nothing is
asserted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from segengine.data.io import datalist
from segengine.data.transforms import DataConfig, make_dataset, train_transforms

SPACING = (3.64, 3.64, 3.27)


def write_cases(root: Path, n: int, shape: tuple[int, int, int], seed: int = 0) -> None:
    """Ellipsoid bodies (soft tissue, lungs, spine) with 2 spherical lesions each."""
    rng = np.random.default_rng(seed)
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    meta = {"channel_names": {"0": "CT", "1": "PET"}, "labels": {"background": 0, "lesion": 1}}
    (root / "dataset.json").write_text(json.dumps(meta))
    grid = np.meshgrid(*(np.linspace(-1, 1, s) for s in shape), indexing="ij")
    x, y, z = grid
    body = (x / 0.7) ** 2 + (y / 0.5) ** 2 < 1
    lungs = (
        body & (z > 0.2) & (np.abs(x) > 0.15) & ((np.abs(x) - 0.35) ** 2 / 0.04 + y**2 / 0.09 < 1)
    )
    spine = (x**2 + (y + 0.3) ** 2 < 0.01) & body
    affine = np.diag([*SPACING, 1.0])
    for i in range(n):
        ct = np.where(body, 40.0, -1000.0) + rng.normal(0, 10, shape)
        ct[lungs], ct[spine] = -800.0, 700.0
        pet = np.where(body, 0.6, 0.0) + np.abs(rng.normal(0, 0.1, shape)) * body
        label = np.zeros(shape, dtype=np.uint8)
        for _ in range(2):
            c = rng.uniform(-0.3, 0.3, 3)
            r = rng.uniform(0.04, 0.08)
            lesion = (x - c[0]) ** 2 + (y - c[1] * 0.5) ** 2 + (z - c[2]) ** 2 < r**2
            label[lesion] = 1
            pet[lesion] = rng.uniform(4, 20)
        case = f"case{i:03d}"
        nib.save(
            nib.Nifti1Image(ct.astype(np.int16), affine), root / f"imagesTr/{case}_0000.nii.gz"
        )
        nib.save(
            nib.Nifti1Image(pet.astype(np.float32), affine), root / f"imagesTr/{case}_0001.nii.gz"
        )
        nib.save(nib.Nifti1Image(label, affine), root / f"labelsTr/{case}.nii.gz")


def samples_per_second(dataset, n_samples: int) -> tuple[float, float]:
    """Samples per wall-clock second and per CPU second of this process (after one warm-up).

    On a shared, busy machine the CPU-time rate is the steadier measure of the work done.
    """
    dataset[0]
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n_samples):
        dataset[i % len(dataset)]
    return n_samples / (time.perf_counter() - wall), n_samples / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=3)
    parser.add_argument("--shape", type=int, nargs=3, default=(128, 128, 160))
    parser.add_argument("--patch", type=int, default=96)
    parser.add_argument("--uncached-samples", type=int, default=6)
    parser.add_argument("--cached-samples", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = DataConfig(patch_size=(args.patch,) * 3)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "DATA"
        write_cases(root, args.cases, tuple(args.shape))
        files = datalist(root)
        transforms = train_transforms(config)
        transforms.set_random_state(seed=0)
        results = {}
        uncached = make_dataset(files, transforms, cache=None)
        results["uncached"] = (0.0, *samples_per_second(uncached, args.uncached_samples))
        for cache in ("memory", "disk"):
            start = time.perf_counter()
            dataset = make_dataset(files, transforms, cache=cache, cache_dir=Path(tmp) / "cache")
            if cache == "disk":
                for i in range(len(dataset)):
                    dataset[i]
            fill = time.perf_counter() - start
            results[cache] = (fill, *samples_per_second(dataset, args.cached_samples))
    print(
        f"{args.cases} cases {tuple(args.shape)} at {SPACING} mm -> 2 mm, patch {args.patch}^3, "
        f"{args.threads} threads, one process"
    )
    _, base_wall, base_cpu = results["uncached"]
    for name, (fill, wall, cpu) in results.items():
        print(
            f"{name:9s} fill {fill:6.1f} s   {wall:6.2f} samples/s wall ({wall / base_wall:5.1f}x)"
            f"   {cpu:6.2f} samples/CPU-s ({cpu / base_cpu:5.1f}x)"
        )


if __name__ == "__main__":
    main()
