"""Is parallel measuring worth it? Worker start-up against serial, and a Dask cluster against joblib.

    python bench/bench_parallel.py [--shape 96 96 64] [--cases 2 4 8 16] [--workers 4]

Writes synthetic cohorts (PET float32 with a smooth body and noise, two reference lesions, one
prediction per case) and times ``measure_cohort`` in a fresh interpreter per run, so that every
parallel run pays its worker start-up as ``agree measure`` does:

1. ``workers=1`` (the baseline) against ``workers=2`` for cohorts of growing total input size:
   where the parallel run stops losing is the ``--workers`` default rule
   (``agreement.measures.cluster.SERIAL_BELOW_BYTES``);
2. ``--workers N`` (joblib, local processes) against a Dask ``LocalCluster`` of N one-thread
   worker processes (``--scheduler``) on the largest cohort; the cluster's own start-up is
   excluded (it runs before the timer, as a cluster a user starts once would).

Times are wall clock in seconds; ratios are against the serial run of the same cohort.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np

TIMED = """
import json, sys, time
args = json.loads(sys.argv[1])
cluster = client = None
if args["scheduler"]:
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=args["workers"], threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    client.wait_for_workers(args["workers"])
from agreement.measures.cohort import measure_cohort
start = time.perf_counter()
res = measure_cohort(args["pred"], args["ref"], args["pet"], progress=False,
                     workers=None if args["scheduler"] else args["workers"],
                     scheduler=client)
print(json.dumps({"seconds": time.perf_counter() - start, "rows": len(res.cases)}))
if client is not None:
    client.close(); cluster.close()
"""


def write_cohort(root: Path, n: int, shape: tuple[int, int, int], seed: int = 0) -> int:
    """``n`` cases under root/{pred,ref,pet}; returns the total bytes written."""
    rng = np.random.default_rng(seed)
    affine = np.diag([4.0, 4.0, 3.0, 1.0])
    grid = np.indices(shape, dtype=np.float32)
    centre = (np.array(shape, np.float32) / 2).reshape(3, 1, 1, 1)
    body = np.exp(-(((grid - centre) / centre) ** 2).sum(0) * 2).astype(np.float32)
    for sub in ("pred", "ref", "pet"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        ref = np.zeros(shape, np.uint8)
        a, b = shape[0] // 4, shape[0] // 2
        ref[a : a + 6, a : a + 6, a : a + 5] = 1
        ref[b : b + 4, b : b + 8, b : b + 4] = 1
        pet = (2 * body + rng.normal(0, 0.1, shape).astype(np.float32) + 6 * ref).clip(0)
        pred = np.roll(ref, 1, axis=0)
        for sub, arr in (("ref", ref), ("pet", pet.astype(np.float32)), ("pred", pred)):
            nib.save(nib.Nifti1Image(arr, affine), root / sub / f"case_{i:03d}.nii.gz")
    return sum(p.stat().st_size for p in root.rglob("*.nii.gz"))


def timed(root: Path, workers: int, scheduler: bool = False) -> float:
    args = {"pred": str(root / "pred"), "ref": str(root / "ref"), "pet": str(root / "pet"),
            "workers": workers, "scheduler": scheduler}  # fmt: skip
    out = subprocess.run([sys.executable, "-c", TIMED, json.dumps(args)], check=True,
                         capture_output=True, text=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=[96, 96, 64])
    parser.add_argument("--cases", type=int, nargs="+", default=[2, 4, 8, 16])
    parser.add_argument("--workers", type=int, default=4, help="for the Dask comparison")
    args = parser.parse_args()
    shape = tuple(args.shape)
    print(f"cases of {shape[0]}x{shape[1]}x{shape[2]} voxels")
    print(f"{'cases':>5} {'MiB':>7} {'serial s':>9} {'2 workers s':>12} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.cases:
            root = Path(tmp) / f"n{n}"
            size = write_cohort(root, n, shape)
            serial = timed(root, 1)
            two = timed(root, 2)
            print(f"{n:>5} {size / 2**20:>7.1f} {serial:>9.2f} {two:>12.2f} {two / serial:>6.2f}")
        root = Path(tmp) / f"n{args.cases[-1]}"
        w = args.workers
        serial = timed(root, 1)
        local = timed(root, w)
        dask = timed(root, w, scheduler=True)
        print(f"\n{args.cases[-1]} cases: serial {serial:.2f} s; --workers {w} {local:.2f} s "
              f"({serial / local:.2f}x); LocalCluster {w} workers {dask:.2f} s "
              f"({serial / dask:.2f}x); cluster / joblib = {dask / local:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
