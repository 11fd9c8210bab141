"""Whole-body inference time: segengine against a bare MONAI sliding_window_inference call.

One synthetic whole-body case (``make_phantoms(shape="full")``: 192x192x320 PET voxels of
3.64x3.64x3.27 mm, resampled to 2 mm and cropped to the body) and one network with random
weights (the time does not depend on the weights). Measured in the same process:

* ``bare``: ``monai.inferers.sliding_window_inference`` on the preprocessed tensor, same window,
  overlap, blending and ``sw_batch_size``;
* ``segengine``: the engine's network step on the same tensor (``segengine.infer``: sliding
  window + softmax), and the ratio to ``bare`` (target: overhead <= 10 %);
* the rest of a case in ``segengine.predict``: loading and preprocessing, mapping the
  probabilities back to the PET grid, writing the mask;
* ``bare`` with ``sw_batch_size`` 1, 2 and 4.

Then the same script runs again in a child process with tcmalloc preloaded
(``LD_PRELOAD=libtcmalloc_minimal.so.4``, Debian ``libtcmalloc-minimal4``) and the ratios
glibc / tcmalloc are printed.

Run::

    python bench/bench_infer.py                  # unet, 96^3 windows, overlap 0.5
    python bench/bench_infer.py --network segresnet --no-tcmalloc
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"


def _timed(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        tic = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - tic)
    return best


def measure(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch
    from monai.inferers import sliding_window_inference

    from segengine.config import TrainConfig
    from segengine.data.phantoms import make_phantoms
    from segengine.infer import (
        _preprocess,
        _run_probabilities,
        _write_nifti,
        load_run,
        to_original_grid,
    )
    from segengine.networks import build_network

    torch.set_num_threads(args.threads)
    tmp = Path(args.work)
    data = args.data or make_phantoms(
        tmp / "ph", 2, seed=0, shape=args.shape, folds=2, progress=False
    )
    ct, pet = (
        data / "imagesTr" / "PSMA_0000_0000.nii.gz",
        data / "imagesTr" / "PSMA_0000_0001.nii.gz",
    )
    config = TrainConfig(network=args.network, patch_size=(args.roi,) * 3)
    run_dir = tmp / "run"
    run_dir.mkdir()
    config.save(run_dir / "config.json")
    torch.manual_seed(0)
    torch.save({"model": build_network(args.network).state_dict()}, run_dir / "best.pt")
    run = load_run(run_dir)
    model = run.model

    out: dict = {
        "network": args.network,
        "roi": args.roi,
        "overlap": args.overlap,
        "threads": args.threads,
        "allocator": "tcmalloc" if os.environ.get("LD_PRELOAD") else "glibc",
    }
    tic = time.perf_counter()
    image = _preprocess(ct, pet, config)
    out["preprocess_s"] = time.perf_counter() - tic
    out["grid"] = list(image.shape[1:])
    plain = image.as_tensor()[None]

    def bare(sw: int):
        with torch.inference_mode():
            return sliding_window_inference(
                plain, (args.roi,) * 3, sw, model, overlap=args.overlap, mode="gaussian"
            )

    opts = {"sw_batch_size": 2, "overlap": args.overlap, "mode": "gaussian"}
    probs = None

    def ours():
        nonlocal probs
        probs = _run_probabilities(run, image, torch.device("cpu"), opts)

    logits = bare(2)  # warm-up
    # Interleaved repeats, best of each: the two calls see the same machine load.
    t_bare, t_ours = [], []
    for _ in range(args.repeats):
        t_bare.append(_timed(lambda: bare(2), 1))
        t_ours.append(_timed(ours, 1))
    out["bare_sw2_s"], out["segengine_sw2_s"] = min(t_bare), min(t_ours)
    out["samples_bare"], out["samples_segengine"] = t_bare, t_ours
    out["overhead"] = out["segengine_sw2_s"] / out["bare_sw2_s"] - 1

    # The work segengine adds to the bare call, timed alone (robust to machine noise):
    # softmax, copy to CPU, MetaTensor wrap.
    from monai.data import MetaTensor

    def extra():
        with torch.inference_mode():
            p = torch.softmax(torch.as_tensor(logits).float(), dim=1)[0].cpu()
        return MetaTensor(p.as_subclass(torch.Tensor), affine=image.affine)

    extra()
    out["extra_s"] = float(np.median([_timed(extra, 1) for _ in range(5)]))
    out["overhead_direct"] = out["extra_s"] / out["bare_sw2_s"]
    import nibabel as nib

    ref = nib.load(str(pet))
    tic = time.perf_counter()
    back = to_original_grid(probs, ref.affine, ref.shape)
    out["invert_s"] = time.perf_counter() - tic
    tic = time.perf_counter()
    _write_nifti(tmp / "mask.nii.gz", back.argmax(0).astype(np.uint8), ref)
    out["write_s"] = time.perf_counter() - tic
    out["case_total_s"] = (
        out["preprocess_s"] + out["segengine_sw2_s"] + out["invert_s"] + out["write_s"]
    )
    for sw in args.sw_sizes:
        if sw != 2:
            out[f"bare_sw{sw}_s"] = _timed(lambda sw=sw: bare(sw), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="unet")
    parser.add_argument("--roi", type=int, default=96)
    parser.add_argument("--overlap", type=float, default=0.5)
    parser.add_argument("--shape", default="full", help="phantom grid: tiny, small or full")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sw-sizes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--no-tcmalloc", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_infer_") as work:
        args.work = work
        run(args)


def run(args: argparse.Namespace) -> None:
    if args.data is None and not args.child:
        from segengine.data.phantoms import make_phantoms

        args.data = make_phantoms(
            Path(args.work) / "ph", 2, seed=0, shape=args.shape, folds=2, progress=False
        )
    result = measure(args)
    if args.child:
        print("RESULT " + json.dumps(result))
        return
    rows = [result]
    if not args.no_tcmalloc and Path(TCMALLOC).is_file():
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--network",
            args.network,
            "--roi",
            str(args.roi),
            "--overlap",
            str(args.overlap),
            "--shape",
            args.shape,
            "--repeats",
            str(args.repeats),
            "--threads",
            str(args.threads),
            "--sw-sizes",
            *map(str, args.sw_sizes),
            "--data",
            str(args.data),
        ]
        env = {**os.environ, "LD_PRELOAD": TCMALLOC}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
        rows.append(json.loads(line[len("RESULT ") :]))
    print(
        f"network {args.network}, window {args.roi}^3, overlap {args.overlap}, gaussian; "
        f"preprocessed grid {result['grid']}; {args.threads} threads; best of {args.repeats}"
        " interleaved repeats (sw1, sw4: one run)"
    )
    keys = [
        "bare_sw2_s",
        "segengine_sw2_s",
        "overhead",
        "extra_s",
        "overhead_direct",
        "preprocess_s",
        "invert_s",
        "write_s",
        "case_total_s",
    ] + [f"bare_sw{s}_s" for s in args.sw_sizes if s != 2]
    print(
        f"{'':18}"
        + "".join(f"{r['allocator']:>12}" for r in rows)
        + ("   glibc/tcmalloc" if len(rows) == 2 else "")
    )
    for key in keys:
        vals = [r[key] for r in rows]
        ratio = f"{vals[0] / vals[1]:>17.2f}" if len(rows) == 2 and "overhead" not in key else ""
        fmt = "{:>12.1%}" if "overhead" in key else "{:>12.2f}"
        print(f"{key:18}" + "".join(fmt.format(v) for v in vals) + ratio)
    for r in rows:
        sw = {s: r[f"bare_sw{s}_s"] for s in args.sw_sizes}
        print(
            f"{r['allocator']}: sw_batch_size speed-up vs 1: "
            + ", ".join(f"sw{s} {sw[1] / sw[s]:.2f}x" for s in args.sw_sizes if 1 in sw)
        )
        print(
            f"{r['allocator']}: samples (s) bare "
            + " ".join(f"{v:.2f}" for v in r["samples_bare"])
            + " | segengine "
            + " ".join(f"{v:.2f}" for v in r["samples_segengine"])
        )


if __name__ == "__main__":
    main()
