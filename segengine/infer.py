"""Sliding-window prediction with trained runs, optionally ensembled, on each case's own grid.

Output layout (what ``agree report PRED`` reads, two levels of method folders)::

    OUT/<network>/<loss>/<case>.nii.gz                  uint8 labels on the PET grid, PET affine
    OUT/<network>/<loss>/<case>_probabilities.npz       optional: float32 (C, *grid) + affine
    OUT/predict.json                                    runs, checkpoints, settings, weights
    OUT/failed.csv                                      cases that failed (case_id, method, reason)

A case whose CT lies on another grid than its PET is predicted with the CT resampled onto the
PET grid (as the papers' autoPET data were); ``predict.json`` lists those cases under
``ct_resampled_to_pet``. A case that cannot be predicted (unreadable image, CT that does not
overlap its PET) is listed in ``failed.csv`` and the other cases go on. An existing ``OUT`` is
continued only with ``resume`` (same runs and settings) or replaced with ``overwrite``.

Without ``ensemble`` every run gets its own ``<network>/<loss>`` folder (so two folds of the same
pair must be predicted into different ``OUT`` folders, or ensembled). With ``ensemble`` the runs
of each network/loss pair are combined (:func:`segengine.ensembling.ensemble`) into that pair's
folder; ``predict.json`` records the method, the folds and the weights.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from agreement.atomic import atomic_path
from agreement.errors import InputError
from segengine.config import TrainConfig
from segengine.ensembling import METHODS, _check_weights, ensemble
from segengine.training import load_checkpoint

IMAGE_SUFFIXES = (".nii.gz", ".nii")


@dataclass(frozen=True)
class Run:
    """A trained run ready to predict: its folder, checkpoint, config and network."""

    folder: Path
    checkpoint: Path
    config: TrainConfig
    model: torch.nn.Module
    val_dice: float

    @property
    def method(self) -> str:
        return f"{self.config.network}/{self.config.loss}"


def load_run(path: str | os.PathLike[str], device: torch.device | str = "cpu") -> Run:
    """Load a run folder (its ``best.pt``) or a checkpoint file inside a run folder.

    Weights load with ``torch.load(weights_only=True)``; a checkpoint that does not fit the
    network named in ``config.json`` is an :class:`~agreement.errors.InputError`.
    """
    from segengine.networks import build_network

    path = Path(path)
    folder, ckpt = (path.parent, path) if path.is_file() else (path, path / "best.pt")
    if not folder.is_dir():
        raise InputError(f"{path}: run folder not found")
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise InputError(f"{folder}: not a run folder (no config.json)")
    try:
        config = TrainConfig.from_dict(json.loads(cfg_path.read_text()))
    except (ValueError, TypeError) as exc:
        raise InputError(f"{cfg_path}: not a segengine run configuration ({exc})") from exc
    state = load_checkpoint(ckpt)
    saved = state.get("config", {}).get("network") if isinstance(state, dict) else None
    if saved is not None and saved != config.network:
        raise InputError(
            f"{ckpt}: checkpoint of network {saved!r}, config.json says {config.network!r}"
        )
    try:
        model = build_network(config.network, **config.network_kwargs)
        model.load_state_dict(state["model"] if "model" in state else state)
    except (RuntimeError, KeyError, ValueError) as exc:
        msg = str(exc).strip().splitlines()[0]
        raise InputError(f"{ckpt}: weights do not fit network {config.network!r} ({msg})") from exc
    model.to(device).eval()
    return Run(folder, ckpt, config, model, float(state.get("best_metric", float("nan"))))


def find_cases(images_dir: str | os.PathLike[str]) -> dict[str, tuple[Path, Path]]:
    """Map case id -> (CT ``<case>_0000``, PET ``<case>_0001``) in an nnU-Net images folder.

    A case with only one of the two channels is kept (the missing path does not exist), so
    that :func:`check_pair` names it as a failed case instead of it vanishing.
    """
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise InputError(f"{images_dir}: images folder not found")
    cases: dict[str, tuple[Path, Path]] = {}
    for path in sorted(images_dir.iterdir()):
        for suffix in IMAGE_SUFFIXES:
            for channel in ("_0000", "_0001"):
                if path.name.endswith(channel + suffix):
                    case = path.name[: -len(channel + suffix)]
                    pair = tuple(images_dir / f"{case}{c}{suffix}" for c in ("_0000", "_0001"))
                    cases.setdefault(case, pair)  # type: ignore[arg-type]
    if not cases:
        raise InputError(f"{images_dir}: no <case>_0000.nii.gz / <case>_0001.nii.gz images")
    return dict(sorted(cases.items()))


def _preprocess(ct: Path, pet: Path, config: TrainConfig, *, ct_on_pet_grid: bool = False) -> Any:
    """The network input (2, *grid) MetaTensor on the run's resampled, cropped grid."""
    from segengine.data.transforms import infer_transforms
    from segengine.training import data_config

    transforms = infer_transforms(data_config(config), ct_on_pet_grid=ct_on_pet_grid)
    return transforms({"ct": str(ct), "pet": str(pet)})["image"]


def check_pair(ct: Path, pet: Path) -> str | None:
    """None when CT and PET share a grid; else how they differ (the CT is then resampled).

    Raises :class:`~agreement.errors.InputError` naming the file when one cannot be read or
    when the CT does not overlap the PET at all (nothing to resample).
    """
    import nibabel as nib

    from segengine.data.io import grid_problem

    for path, other, name in ((pet, ct, "PET"), (ct, pet, "CT")):
        if not path.is_file():
            raise InputError(f"{other}: no {name} channel {path.name} beside it")
    images = []
    for path in (ct, pet):
        try:
            images.append(nib.load(str(path)))
        except Exception as exc:  # noqa: BLE001 - any reader error names the file
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InputError(f"{path}: cannot read ({first})") from None
    problem = grid_problem(*images)
    if problem is None:
        return None
    low, high = zip(*(_world_box(img) for img in images), strict=True)
    if np.any(np.max(low, axis=0) >= np.min(high, axis=0)):
        raise InputError(f"{ct}: CT does not overlap its PET {pet.name} ({problem})")
    return problem


def _world_box(img: Any) -> tuple[np.ndarray, np.ndarray]:
    """World-coordinate bounding box (mm) of an image's voxel centres."""
    shape = np.asarray(img.shape[:3]) - 1
    corners = np.array(np.meshgrid(*[[0, n] for n in shape], indexing="ij")).reshape(3, -1)
    world = img.affine[:3, :3] @ corners + img.affine[:3, 3:4]
    return world.min(axis=1), world.max(axis=1)


def to_original_grid(probabilities: Any, affine: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Resample ``(C, *grid)`` probabilities (a MetaTensor with its affine) to another grid.

    Channels 1.. are resampled bilinearly with zeros outside the predicted region; channel 0 is
    ``1 - sum(others)``, so voxels outside the network's field of view are background.
    """
    from monai.transforms import SpatialResample

    resample = SpatialResample(mode="bilinear", padding_mode="zeros", dtype=torch.float32)
    fg = resample(probabilities[1:], dst_affine=torch.as_tensor(affine), spatial_size=tuple(shape))
    fg = torch.as_tensor(fg).clamp_(0, 1).cpu().numpy()
    bg = np.clip(1.0 - fg.sum(0, keepdims=True), 0.0, 1.0)
    return np.concatenate([bg, fg]).astype(np.float32)


def _run_probabilities(run: Run, image: Any, device: torch.device, opts: dict) -> Any:
    from monai.inferers import sliding_window_inference

    from segengine.accel import autocast, plain

    with torch.inference_mode(), autocast(device, opts.get("dtype")):
        logits = sliding_window_inference(
            plain(image)[None].to(device),
            roi_size=run.config.patch_size,
            sw_batch_size=opts["sw_batch_size"],
            predictor=run.model,
            overlap=opts["overlap"],
            mode=opts["mode"],
        )
        probs = torch.softmax(plain(logits).float(), dim=1)[0].cpu()
    from monai.data import MetaTensor

    return MetaTensor(probs.as_subclass(torch.Tensor), affine=image.affine)


def _write_nifti(path: Path, array: np.ndarray, reference: Any) -> None:
    import nibabel as nib

    header = reference.header.copy()
    header.set_data_dtype(array.dtype)
    img = nib.Nifti1Image(array, reference.affine, header)
    img.set_qform(reference.affine, code=int(reference.header["qform_code"]) or 1)
    img.set_sform(reference.affine, code=int(reference.header["sform_code"]) or 1)
    with atomic_path(path) as tmp:
        data = img.to_bytes()
        tmp.write_bytes(gzip.compress(data, compresslevel=1) if path.suffix == ".gz" else data)


def predict(
    runs: Sequence[str | os.PathLike[str]],
    images_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    ensemble: Literal["majority", "mean", "weighted"] | None = None,
    device: str = "auto",
    sw_batch_size: int = 2,
    overlap: float | None = None,
    mode: Literal["gaussian", "constant"] | None = None,
    save_probabilities: bool = False,
    resume: bool = False,
    overwrite: bool = False,
    strict: bool = False,
    compat: Literal["reference"] | None = None,
    progress: bool = True,
    amp: bool = True,
) -> Path:
    """Predict every case of ``images_dir`` with trained runs; return ``out_dir``.

    Parameters
    ----------
    runs : sequence of paths
        Run folders (their ``best.pt``) or checkpoint files inside run folders.
    images_dir : path
        ``<case>_0000.nii.gz`` (CT) and ``<case>_0001.nii.gz`` (PET) files.
    out_dir : path
        Output root; masks go to ``out_dir/<network>/<loss>/<case>.nii.gz``.
    ensemble : {"majority", "mean", "weighted"}, optional
        Combine the runs of each network/loss pair; ``"weighted"`` uses each run's best
        validation Dice as its weight.
    device : str
        ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda[:N]"``.
    sw_batch_size : int
        Windows per forward pass (≥ 2 avoids PyTorch's slow batch-1 CPU convolution).
    overlap, mode : float, str, optional
        Sliding-window overlap and blending; default 0.5 and ``"gaussian"``, or the papers' 0.25
        and ``"constant"`` under ``compat="reference"``.
    save_probabilities : bool
        Also write ``<case>_probabilities.npz`` (``probabilities`` (C, *grid), ``affine``).
    resume : bool
        Continue an existing ``out_dir``: skip cases whose outputs exist. Refused unless its
        ``predict.json`` records the same runs (checkpoint SHA-256) and settings.
    overwrite : bool
        Replace an existing ``out_dir`` that holds an earlier ``predict`` output (its
        ``predict.json``); the old folder stays until the new one is complete. Without
        ``resume`` or ``overwrite`` an existing, non-empty ``out_dir`` is refused.
    strict : bool
        Stop at the first failing case. Otherwise a failing case (unreadable image, CT that
        does not overlap its PET, ...) is listed in ``failed.csv`` (``case_id, method,
        reason``, as ``agree`` writes it) and the others go on; only when every case fails
        is it an error.
    compat : {"reference"}, optional
        The published code's inference settings.
    progress : bool
        Show a progress bar over cases.
    amp : bool
        bf16 autocast on CUDA (fp16 where the GPU has no bf16); CPU runs are fp32.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) every process takes every ``world``-th case on its
    own GPU (``cuda:LOCAL_RANK``; gloo processes on CPU), and rank 0 writes ``predict.json``
    after all are done.

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Examples
    --------
    >>> from segengine.infer import default_window
    >>> default_window(None, None, compat="reference")
    (0.25, 'constant')
    """
    from segengine.progress import Steps

    if ensemble is not None and ensemble not in METHODS:
        raise ValueError(f"ensemble must be None or one of {METHODS}, got {ensemble!r}")
    if sw_batch_size < 1:
        raise ValueError(f"sw_batch_size must be >= 1, got {sw_batch_size}")
    overlap, mode = default_window(overlap, mode, compat=compat)
    if not runs:
        raise InputError("predict: no run folders given")
    from segengine.accel import autocast_dtype
    from segengine.training import _Dist

    cases = find_cases(images_dir)
    dist = _Dist(device)  # under torchrun: this rank's GPU, process group
    dev = dist.device
    mine = dict(list(cases.items())[dist.rank :: dist.world])
    dtype = autocast_dtype(dev, amp=amp)
    out_dir = Path(out_dir)
    loaded = [load_run(r, dev) for r in runs]
    groups: dict[str, list[Run]] = {}
    for run in loaded:
        if ensemble is None and run.method in groups:
            raise InputError(
                f"{run.folder}: a second {run.method} run; pass --ensemble or predict it into "
                "another output folder"
            )
        groups.setdefault(run.method, []).append(run)
    weights = {}
    if ensemble == "weighted":
        for method, group in groups.items():
            w = [r.val_dice for r in group]
            bad = [str(r.checkpoint) for r in group if not np.isfinite(r.val_dice)]
            if bad:
                raise InputError(f"{bad[0]}: no validation Dice to weight the ensemble with")
            weights[method] = w
            _check_weights(w, len(w))  # warns once when the weights are nearly equal
    opts = {"sw_batch_size": sw_batch_size, "overlap": overlap, "mode": mode}
    manifest = _manifest(groups, ensemble, weights, opts, compat)
    manifest["precision"] = str(dtype or "fp32").removeprefix("torch.")
    state = _output_state(out_dir, manifest, resume=resume, overwrite=overwrite)
    if state == "replace" and dist.world > 1:
        raise InputError(f"{out_dir}: --overwrite is not available under torchrun; remove the "
                         "folder or predict into a new one")  # fmt: skip
    dist.barrier()  # every rank has looked at out_dir before rank 0 writes to it

    # Grids first (headers only): unreadable or disjoint CT/PET pairs fail before any writing.
    failed: list[dict[str, str]] = []
    resampled: dict[str, str] = {}
    for case, (ct, pet) in cases.items():
        try:
            problem = check_pair(ct, pet)
        except InputError as exc:
            if strict:
                raise
            failed += [{"case_id": case, "method": m, "reason": str(exc)} for m in groups]
            continue
        if problem is not None:
            resampled[case] = problem
    bad_cases = {f["case_id"] for f in failed}
    if failed and len(bad_cases) == len(cases):
        raise InputError(f"{failed[0]['reason']} (every case failed)")

    # Under torchrun every rank predicts every world-th case; rank 0 writes the manifest.
    target = _destination(out_dir, state) if dist.main else contextlib.nullcontext(out_dir)
    with target as root:
        if dist.main and state != "resume":
            _write_json(root / "predict.json", {**manifest, "complete": False})
        dist.barrier()
        done, errors = 0, []
        steps = Steps(list(mine.items()), desc="predict", unit="case",
                      enabled=progress and dist.main)  # fmt: skip
        for case, (ct, pet) in steps:
            if case in bad_cases:
                steps.done(f"{case} failed (failed.csv)")
                continue
            tic = time.perf_counter()
            try:
                _predict_case(case, ct, pet, root, groups, weights, {**opts, "dtype": dtype},
                              dev, resume=state == "resume",
                              save_probabilities=save_probabilities, ensemble=ensemble,
                              ct_on_pet_grid=case in resampled)  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - one bad case must not stop the others
                if strict:
                    raise
                reason = _reason(exc)
                errors += [{"case_id": case, "method": m, "reason": reason} for m in groups]
                steps.done(f"{case} failed (failed.csv)")
                continue
            done += 1
            steps.done(f"{case} ({time.perf_counter() - tic:.1f} s)")
        steps.close()
        gathered = dist.gather((done, errors))
        done = sum(d for d, _ in gathered)
        failed += [e for _, errs in gathered for e in errs]
        if done == 0 and failed:
            raise InputError(f"{failed[0]['reason']} (every case failed)")
        if dist.main:
            _write_failed(root / "failed.csv", failed)
            _write_json(root / "predict.json", {
                **manifest, "complete": True, "ct_resampled_to_pet": resampled,
                "failed_cases": sorted({f["case_id"] for f in failed}),
            })  # fmt: skip
    dist.barrier()
    dist.close()
    return out_dir


def _predict_case(
    case: str,
    ct: Path,
    pet: Path,
    root: Path,
    groups: dict[str, list[Run]],
    weights: dict,
    opts: dict,
    dev: torch.device,
    *,
    resume: bool,
    save_probabilities: bool,
    ensemble: str | None,
    ct_on_pet_grid: bool,
) -> None:
    """Predict one case with every method (skipping outputs that exist under ``resume``)."""
    import nibabel as nib

    todo = {}
    for method in groups:
        folder = root / method
        target = folder / f"{case}.nii.gz"
        prob_file = folder / f"{case}_probabilities.npz"
        done = target.is_file() and (not save_probabilities or prob_file.is_file())
        if not (resume and done):
            todo[method] = (target, prob_file)
    if not todo:
        return
    pet_img = nib.load(str(pet))
    shape = pet_img.shape[:3]
    inputs: dict[tuple, Any] = {}
    for method, (target, prob_file) in todo.items():
        stack = []
        for run in groups[method]:
            key = (run.config.spacing, run.config.compat)
            if key not in inputs:
                inputs[key] = _preprocess(ct, pet, run.config, ct_on_pet_grid=ct_on_pet_grid)
            probs = _run_probabilities(run, inputs[key], dev, opts)
            stack.append(to_original_grid(probs, pet_img.affine, shape))
        stacked = np.stack(stack)
        rule = ensemble or "mean"  # one run: the mean is the run itself
        labels, mean = _combine(stacked, rule, weights.get(method))
        target.parent.mkdir(parents=True, exist_ok=True)
        if save_probabilities:
            with atomic_path(prob_file) as tmp:
                with tmp.open("wb") as fh:
                    np.savez_compressed(fh, probabilities=mean, affine=pet_img.affine)
        _write_nifti(target, labels.astype(np.uint8), pet_img)


def _reason(exc: BaseException) -> str:
    """One line for the failures table: the message (with the error type unless InputError)."""
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    return first if isinstance(exc, InputError) else f"{type(exc).__name__}: {first}"


# predict.json keys that may differ between a run and its --resume (the rest must match).
_FREE_KEYS = (
    "sw_batch_size", "precision", "versions", "complete", "ct_resampled_to_pet", "failed_cases"
)  # fmt: skip


def _output_state(out_dir: Path, manifest: dict, *, resume: bool, overwrite: bool) -> str:
    """"new" (absent or empty folder), "resume" or "replace"; refuse anything else."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder")
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return "new"
    saved = out_dir / "predict.json"
    old = _read_json(saved) if saved.is_file() else None
    if resume and old is not None:
        diff = [k for k in sorted(set(manifest) | set(old))
                if k not in _FREE_KEYS and _canon(manifest.get(k)) != _canon(old.get(k))]  # fmt: skip
        if not diff:
            return "resume"
        if not overwrite:
            raise InputError(f"{saved}: predicted with {_difference(diff[0], old, manifest)}; "
                             "cannot resume (pass --overwrite to replace the folder)")  # fmt: skip
    if overwrite:
        if old is None:
            raise InputError(f"{out_dir}: not a segengine predict output (no predict.json); "
                             "refusing to replace it")  # fmt: skip
        return "replace"
    if resume:
        raise InputError(f"{out_dir}: --resume found no predict.json of segengine predict "
                         "there; refusing to mix predictions into it")  # fmt: skip
    raise InputError(f"{out_dir}: output folder exists; pass --resume to continue it "
                     "(same runs and settings) or --overwrite to replace it")  # fmt: skip


def _difference(key: str, old: dict, new: dict) -> str:
    """What differs between two predict.json, in words."""
    if key != "methods" or not isinstance(old.get("methods"), dict):
        return f"other {key} ({_canon(old.get(key))}, not {_canon(new.get(key))})"
    before, now = old["methods"], new["methods"]
    if sorted(before) != sorted(now):
        return f"other methods ({', '.join(sorted(before))}, not {', '.join(sorted(now))})"
    for method in sorted(now):
        a, b = before[method], now[method]
        if a.get("checkpoints") != b.get("checkpoints"):
            return f"other {method} checkpoints ({_canon(a.get('checkpoints'))})"
        for path, x, y in zip(b["checkpoints"], a.get("sha256") or [], b["sha256"], strict=False):
            if x != y:
                return f"other weights in {path} (its SHA-256 differs)"
    return "other runs"


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")


def _write_failed(path: Path, failed: list[dict[str, str]]) -> None:
    """``failed.csv`` (agree's schema: case_id, method, reason), or none when nothing failed."""
    if not failed:
        path.unlink(missing_ok=True)  # a resumed run retried them
        return
    import pandas as pd

    from agreement.measures.case import FAILED_COLUMNS
    from agreement.tables import write_table

    write_table(pd.DataFrame(failed, columns=FAILED_COLUMNS), path)


@contextlib.contextmanager
def _destination(out_dir: Path, state: str) -> Iterator[Path]:
    """Where to write: ``out_dir`` itself (new or resumed: a killed run can resume), or a
    temporary beside it that replaces the old output only once complete."""
    if state == "replace":
        from agreement.atomic import atomic_dir

        with atomic_dir(out_dir, overwrite=True) as tmp:
            yield tmp
        return
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        yield out_dir
    except BaseException:
        if state == "new" and not any(p.name != "predict.json" for p in out_dir.iterdir()):
            (out_dir / "predict.json").unlink(missing_ok=True)  # nothing predicted: no output
            if created:
                out_dir.rmdir()
        raise


def _combine(stacked: np.ndarray, rule: str, weights: Any) -> tuple[np.ndarray, np.ndarray]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # near-equal weights were warned about once
        return ensemble(stacked, rule, weights, return_probabilities=True)


def default_window(
    overlap: float | None, mode: str | None, *, compat: str | None = None
) -> tuple[float, str]:
    """Resolve the sliding-window overlap and blending mode (explicit values win)."""
    if compat not in (None, "reference"):
        raise ValueError(f"compat must be None or 'reference', got {compat!r}")
    ref = compat == "reference"
    overlap = (0.25 if ref else 0.5) if overlap is None else float(overlap)
    mode = ("constant" if ref else "gaussian") if mode is None else mode
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    if mode not in ("gaussian", "constant"):
        raise ValueError(f"mode must be 'gaussian' or 'constant', got {mode!r}")
    return overlap, mode


def _manifest(groups: dict, method: Any, weights: dict, opts: dict, compat: Any) -> dict:
    """``predict.json``: the runs (absolute paths, checkpoint SHA-256) and every setting."""
    import monai

    return {
        "ensemble": method,
        "compat": compat,
        **opts,
        "methods": {
            m: {
                "runs": [str(r.folder.resolve()) for r in g],
                "checkpoints": [str(r.checkpoint.resolve()) for r in g],
                "sha256": [_sha256(r.checkpoint) for r in g],
                "folds": [r.config.fold for r in g],
                "val_dice": [r.val_dice for r in g],
                "weights": weights.get(m),
            }
            for m, g in groups.items()
        },
        "versions": {"torch": torch.__version__, "monai": monai.__version__},
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
