"""Build the demo cohort bundled in ``agreement/data/demo`` (run from the repository root).

    python examples/build_demo_cohort.py --trained      # trains 6 small models (~26 min on 2 CPU cores)
    python examples/build_demo_cohort.py --simulated    # seeded perturbations, no torch, seconds
    python examples/build_demo_cohort.py --simulated -o demo-simulated --cases 30 --shape small

What it writes:

* ``pet/<case>.nii.gz``: PET in SUV from :func:`segengine.data.phantoms.make_phantoms`
  (``shape="tiny"``), stored as int16 with ``scl_slope = 0.01`` (SUV to 0.01, ≤ 327 SUV);
* ``reference/<case>.nii.gz``: the phantoms' reference lesion masks (uint8);
* ``pred/<network>/<loss>/<case>.nii.gz``: predictions (uint8) of 2 networks × 3 losses, either

  - ``--trained``: one small model per (network, loss) pair trained with
    :func:`segengine.training.train` on a separate phantom cohort (``TRAIN_CASES`` cases, seed
    ``TRAIN_SEED``) with the settings of ``TRAIN`` and ``NETWORK_OVERRIDES``, then
    :func:`segengine.infer.predict` on the demo cases' CT and PET (needs torch and MONAI);
  - ``--simulated``: a seeded perturbation of the reference masks that imitates how each
    pair behaves (see ``PAIRS``; numpy and scipy only);

* ``manifest.json``: generator, seeds, the training settings or perturbation parameters and
  every file's SHA-256.

See ``docs/demo.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from scipy import ndimage

from segengine.data.phantoms import make_phantoms

SEED = 2026
CASES = 30
SHAPE = "tiny"
PET_SLOPE = 0.01  # SUV per stored integer
STRUCTURE = ndimage.generate_binary_structure(3, 2)  # 18-connectivity, as the measures
NETWORKS = ("attention_unet", "segresnet")
LOSSES = ("dice", "dice_focal", "l1dfl")

# --- trained predictions (--trained) ---------------------------------------------------------
TRAIN_CASES = 60
TRAIN_SEED = 7  # not the demo's seed: the demo cases are never seen in training
#: Small networks for 32-voxel patches (3 down-samplings, 8 base channels).
NETWORK_OVERRIDES: dict[str, dict[str, Any]] = {
    "attention_unet": {"channels": (8, 16, 32, 64), "strides": (2, 2, 2)},
    "segresnet": {"init_filters": 8},
}
#: TrainConfig fields shared by the six runs (the rest are segengine's defaults): patches of
#: 32³ voxels at the phantom's in-plane spacing (3.64 mm isotropic, about the whole body of a
#: tiny phantom), 2000 optimiser steps, a higher learning rate than the papers' 2e-4.
TRAIN: dict[str, Any] = dict(
    spacing=3.64,
    patch_size=(32, 32, 32),
    batch_size=2,
    epochs=20,
    steps_per_epoch=100,
    val_interval=3,
    lr=2e-3,
    seed=0,
    fold=0,
    n_folds=5,
)

#: Perturbation model per (network, loss). ``shift``: mean boundary shift in voxels (negative
#: = under-segmentation), ``shift_sd``: its spread between lesions; ``miss_small`` and
#: ``miss_large``: probability of missing a lesion below / above ``SMALL_ML``; ``fp_mean``:
#: mean number (Poisson) of false positives per case at physiological hot spots.
#: Chosen so that L1DFL is the most balanced, Dice Focal over-segments and adds false
#: positives, Dice under-segments and misses small lesions, and SegResNet is noisier than
#: Attention U-Net: the qualitative pattern of papers 000 and 001, not their numbers.
PAIRS: dict[tuple[str, str], dict[str, float]] = {
    ("attention_unet", "dice"): dict(shift=-0.35, shift_sd=0.35, miss_small=0.30, miss_large=0.04, fp_mean=0.7),
    ("attention_unet", "dice_focal"): dict(shift=0.45, shift_sd=0.35, miss_small=0.18, miss_large=0.02, fp_mean=1.2),
    ("attention_unet", "l1dfl"): dict(shift=0.05, shift_sd=0.20, miss_small=0.10, miss_large=0.00, fp_mean=0.15),
    ("segresnet", "dice"): dict(shift=-0.50, shift_sd=0.50, miss_small=0.38, miss_large=0.08, fp_mean=0.6),
    ("segresnet", "dice_focal"): dict(shift=0.65, shift_sd=0.50, miss_small=0.25, miss_large=0.04, fp_mean=1.6),
    ("segresnet", "l1dfl"): dict(shift=0.10, shift_sd=0.30, miss_small=0.14, miss_large=0.02, fp_mean=0.30),
}  # fmt: skip
SMALL_ML = 1.0
UPTAKE_FLOOR = 0.3  # grown voxels need PET >= this fraction of the lesion's SUVmax
FP_FRACTION = 0.55  # a false positive = voxels >= this fraction of the hot spot's peak


def _shift_boundary(
    lesion: np.ndarray, shift: float, pet: np.ndarray, suv_max: float, rng: np.random.Generator
) -> np.ndarray:
    """Grow (shift > 0) or shrink (shift < 0) a lesion by ``|shift|`` voxel layers.

    Whole layers for the integer part; for the fractional part each voxel of the next layer
    is added (or removed) with that probability. Growth follows the uptake: only voxels with
    PET >= ``UPTAKE_FLOOR`` × SUVmax are added.
    """
    out = lesion.copy()
    steps, frac = int(abs(shift)), abs(shift) % 1.0
    allowed = pet >= UPTAKE_FLOOR * suv_max
    for k in range(steps + 1):
        p = 1.0 if k < steps else frac
        if p <= 0:
            break
        if shift > 0:
            shell = ndimage.binary_dilation(out, STRUCTURE) & ~out & allowed
            out |= shell & (rng.random(out.shape) < p)
        else:
            shell = out & ~ndimage.binary_erosion(out, STRUCTURE)
            removed = shell & (rng.random(out.shape) < p)
            if removed.sum() >= out.sum():  # never erase the lesion by erosion alone
                break
            out &= ~removed
    return out


def _false_positives(
    pet: np.ndarray, forbidden: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` blobs at physiological hot spots (local PET maxima above the 99th percentile, away
    from the lesions, chosen uniformly)."""
    out = np.zeros(pet.shape, dtype=bool)
    if n == 0:
        return out
    peaks = (pet == ndimage.maximum_filter(pet, size=5)) & (pet > np.percentile(pet, 99.0))
    peaks &= ~forbidden
    coords = np.argwhere(peaks)
    if not len(coords):
        return out
    chosen = rng.choice(len(coords), size=min(n, len(coords)), replace=False)
    for i in chosen:
        c = coords[i]
        box = tuple(slice(max(0, x - 2), x + 3) for x in c)
        local = np.zeros(pet.shape, dtype=bool)
        local[box] = pet[box] >= FP_FRACTION * pet[tuple(c)]
        local &= ~forbidden
        labels, _ = ndimage.label(local, STRUCTURE)
        if labels[tuple(c)]:
            out |= labels == labels[tuple(c)]
    return out


def simulate_prediction(
    reference: np.ndarray,
    pet: np.ndarray,
    voxel_ml: float,
    params: dict[str, float],
    rng: np.random.Generator,
) -> np.ndarray:
    """A simulated network prediction: per lesion miss or boundary shift, plus false positives."""
    labels, n = ndimage.label(reference > 0, STRUCTURE)
    pred = np.zeros(reference.shape, dtype=bool)
    for k in range(1, n + 1):
        lesion = labels == k
        volume = lesion.sum() * voxel_ml
        p_miss = params["miss_small"] if volume < SMALL_ML else params["miss_large"]
        if rng.random() < p_miss:
            continue
        shift = rng.normal(params["shift"], params["shift_sd"])
        pred |= _shift_boundary(lesion, shift, pet, float(pet[lesion].max()), rng)
    forbidden = ndimage.binary_dilation(reference > 0, STRUCTURE, iterations=2) | pred
    pred |= _false_positives(pet, forbidden, int(rng.poisson(params["fp_mean"])), rng)
    return pred.astype(np.uint8)


def _save(array: np.ndarray, affine: np.ndarray, path: Path, *, slope: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(array, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    if slope is not None:
        img.header.set_slope_inter(slope, 0.0)
    nib.save(img, str(path))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _trained_predictions(
    demo_raw: Path, case_ids: list[str], scratch: Path, work: Path | None, *, shape: str
) -> tuple[dict[tuple[str, str], dict[str, np.ndarray]], dict[str, Any]]:
    """Train one small model per (network, loss) on a separate phantom cohort and predict the
    demo cases; return ``{(network, loss): {case: mask}}`` and what the manifest records."""
    import monai
    import torch

    from segengine.config import TrainConfig
    from segengine.infer import predict
    from segengine.training import train

    root = work if work is not None else scratch / "trained"
    train_dir = root / "train_phantoms"
    if not (train_dir / "dataset.json").is_file():
        make_phantoms(
            train_dir, TRAIN_CASES, TRAIN_SEED, shape=shape, overwrite=True, progress=False
        )
    runs_dir = root / "runs"
    runs: dict[str, Any] = {}
    masks: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for network in NETWORKS:
        for loss in LOSSES:
            config = TrainConfig(
                network=network, loss=loss, network_kwargs=NETWORK_OVERRIDES[network], **TRAIN
            )
            run_dir = runs_dir / config.run_name
            tic = time.perf_counter()
            if not (run_dir / "best.pt").is_file() or _epochs_done(run_dir) < config.epochs:
                resume = (run_dir / "last.pt").is_file()  # an interrupted build continues
                train(config, train_dir, runs_dir, resume=resume, progress=False, device="cpu")
                seconds = time.perf_counter() - tic
            else:  # a finished run in --work is reused: report its epochs' time from log.csv
                seconds = _log_seconds(run_dir)
            pred_dir = root / "pred" / config.run_name
            predict([run_dir], demo_raw / "imagesTr", pred_dir, device="cpu", progress=False,
                    overwrite=True)  # this script's own earlier output, if any
            masks[network, loss] = {
                case: np.asarray(
                    nib.load(pred_dir / network / loss / f"{case}.nii.gz").dataobj
                ).astype(np.uint8)
                for case in case_ids
            }
            state = torch.load(run_dir / "best.pt", map_location="cpu", weights_only=True)
            runs[f"{network}/{loss}"] = {
                "train_seconds": round(seconds, 1),
                "best_val_dice": round(float(state["best_metric"]), 4),
                "best_epoch": int(state["best_epoch"]),
            }
            print(f"{network}/{loss}: trained in {seconds:.0f} s, best validation Dice "
                  f"{state['best_metric']:.3f}", file=sys.stderr)  # fmt: skip
    info = {
        "training_phantoms": {"cases": TRAIN_CASES, "seed": TRAIN_SEED, "shape": shape},
        "train_config": {k: list(v) if isinstance(v, tuple) else v for k, v in TRAIN.items()},
        "network_overrides": {
            k: {a: list(b) if isinstance(b, tuple) else b for a, b in v.items()}
            for k, v in NETWORK_OVERRIDES.items()
        },  # fmt: skip
        "device": "cpu",
        "runs": runs,
        "versions": {"torch": torch.__version__, "monai": monai.__version__},
    }
    return masks, info


def _epochs_done(run_dir: Path) -> int:
    log = run_dir / "log.csv"
    return max(0, len(log.read_text().splitlines()) - 1) if log.is_file() else 0


def _log_seconds(run_dir: Path) -> float:
    rows = (run_dir / "log.csv").read_text().splitlines()[1:]
    return sum(float(row.split(",")[-1]) for row in rows if row)


def build(
    out: Path,
    *,
    cases: int = CASES,
    seed: int = SEED,
    shape: str = SHAPE,
    trained: bool = True,
    work: Path | None = None,
) -> Path:
    """Write the demo cohort to ``out`` (replaced if it exists) and return it.

    ``trained``: predictions of small models trained with segengine (``work`` keeps the
    training phantoms, run folders and raw predictions, and lets an interrupted build resume);
    otherwise simulated predictions (perturbed reference masks).
    """
    with tempfile.TemporaryDirectory() as scratch:
        raw = make_phantoms(Path(scratch) / "phantoms", cases, seed, shape=shape, progress=False)
        dataset = json.loads((raw / "dataset.json").read_text())
        case_ids = sorted(p.name[: -len(".nii.gz")] for p in (raw / "labelsTr").iterdir())
        if trained:
            masks, info = _trained_predictions(raw, case_ids, Path(scratch), work, shape=shape)
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".demo.", dir=out.parent))
        try:
            for i, case in enumerate(case_ids):
                pet_img = nib.load(raw / "imagesTr" / f"{case}_0001.nii.gz")
                pet = np.asarray(pet_img.get_fdata(dtype=np.float32))
                ref = np.asarray(nib.load(raw / "labelsTr" / f"{case}.nii.gz").dataobj).astype(
                    np.uint8
                )
                affine = pet_img.affine
                voxel_ml = float(np.prod(nib.affines.voxel_sizes(affine))) / 1000.0
                stored = np.clip(np.round(pet / PET_SLOPE), 0, np.iinfo(np.int16).max).astype(
                    np.int16
                )
                _save(stored, affine, stage / "pet" / f"{case}.nii.gz", slope=PET_SLOPE)
                _save(ref, affine, stage / "reference" / f"{case}.nii.gz")
                pet_q = stored.astype(np.float32) * PET_SLOPE
                for j, ((network, loss), params) in enumerate(PAIRS.items()):
                    if trained:
                        pred = masks[network, loss][case]
                    else:
                        key = (99, j, i)
                        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))
                        pred = simulate_prediction(ref, pet_q, voxel_ml, params, rng)
                    _save(pred, affine, stage / "pred" / network / loss / f"{case}.nii.gz")
            perturbation = {
                "used": not trained,
                "pairs": {f"{n}/{lo}": p for (n, lo), p in PAIRS.items()},
                "small_lesion_ml": SMALL_ML,
                "uptake_floor": UPTAKE_FLOOR,
                "fp_fraction": FP_FRACTION,
                "connectivity": 18,
            }
            if trained:
                description = (
                    "pet-agreement demo cohort: synthetic PSMA-like phantoms with predictions "
                    "of small models TRAINED with segengine on a separate phantom cohort"
                )
                perturbation["note"] = "not used (--simulated mode only)"
            else:
                description = (
                    "pet-agreement demo cohort: synthetic PSMA-like phantoms with "
                    "SIMULATED predictions (seeded perturbations of the reference masks)"
                )
            files = sorted(p for p in stage.rglob("*.nii.gz"))
            manifest = {
                "description": description,
                "builder": "examples/build_demo_cohort.py",
                "seed": seed,
                "cases": case_ids,
                "phantoms": {
                    k: dataset[k]
                    for k in (
                        "generator",
                        "generator_version",
                        "shape",
                        "spacing",
                        "psf_fwhm_mm",
                        "counts_per_suv",
                    )
                },
                "pet_storage": f"int16 with scl_slope {PET_SLOPE} (SUV)",
                "predictions": "trained" if trained else "simulated",
                "methods": [f"{n}/{lo}" for n, lo in PAIRS],
                **({"training": info} if trained else {}),
                "perturbation": perturbation,
                "files": {str(p.relative_to(stage)): _sha256(p) for p in files},
            }
            (stage / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
            if out.exists():
                shutil.rmtree(out)
            stage.rename(out)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1] / "agreement" / "data" / "demo"
    parser.add_argument("-o", "--output", type=Path, default=default)
    parser.add_argument("--cases", type=int, default=CASES)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--shape",
        choices=["tiny", "small", "full"],
        default=SHAPE,
        help="phantom grid (the bundled cohort is tiny)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--trained",
        dest="trained",
        action="store_true",
        default=True,
        help="predictions of 6 small models trained with segengine (default; needs torch)",
    )
    mode.add_argument(
        "--simulated",
        dest="trained",
        action="store_false",
        help="predictions simulated by perturbing the reference masks (no torch)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="--trained: keep training phantoms, runs and raw predictions here (resumable)",
    )
    args = parser.parse_args()
    work = args.work.resolve() if args.work is not None else None
    out = build(
        args.output.resolve(),
        cases=args.cases,
        seed=args.seed,
        shape=args.shape,
        trained=args.trained,
        work=work,
    )
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
