"""Everything measured for one case: both masks' measures, overlap, detection, lesions.

Each mask is labelled once (cc3d on its bounding box) and the labelling is reused for the
measures, the overlap, the detection and the lesion table. The reference and the PET are read
once per case, whatever the number of methods.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agreement.measures.detection import detect_labelled
from agreement.measures.io import (
    CROPPED_FORMATS,
    Volume,
    align_exact,
    check_same_grid,
    image_suffix,
    load_volume,
    mask_array,
    pet_array,
    resample_nearest,
)
from agreement.measures.layout import CaseJob, case_stem
from agreement.measures.lesions import LabelledMask, analyse
from agreement.measures.options import MeasureOptions, with_legacy_keywords
from agreement.measures.overlap import intersections, overlap_of
from agreement.measures.quantify import measures_of
from agreement.measures.segfiles import load_mask
from agreement.schemas import SCHEMAS
from agreement.tables import CANONICAL_UNITS as UNITS
from agreement.tables import METRICS

MEASUREMENT_COLUMNS = list(SCHEMAS["measurements"].columns)
CASE_COLUMNS = list(SCHEMAS["cases"].columns)
LESION_TABLE_COLUMNS = list(SCHEMAS["lesions"].columns)
FAILED_COLUMNS = list(SCHEMAS["failed"].columns)
PET_GRID_HINT = "the PET must be on the reference grid (--resample moves predictions only)"


def scenario(n_reference_lesions: int) -> str:
    """``none``, ``single`` or ``multiple`` reference lesions (L1DFL paper scenarios).

    Examples
    --------
    >>> [scenario(n) for n in (0, 1, 3)]
    ['none', 'single', 'multiple']
    """
    return (
        "none" if n_reference_lesions == 0 else "single" if n_reference_lesions == 1 else "multiple"
    )


@dataclass(frozen=True, eq=False)
class CaseResult:
    """Rows of the measurements, cases, lesions and failed tables for one case."""

    measurements: pd.DataFrame
    cases: pd.DataFrame
    lesions: pd.DataFrame
    failed: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FAILED_COLUMNS))
    #: With a reference label value: whether the reference mask holds it (else None).
    label_found: bool | None = None
    #: Warnings raised while measuring (category, message), for the caller to show.
    warnings: tuple[tuple[type[Warning], str], ...] = ()

    def __repr__(self) -> str:
        return (
            f"CaseResult({len(self.cases)} method(s), {len(self.lesions)} lesion rows, "
            f"{len(self.failed)} failed)"
        )


def _one_method(
    case_id: str,
    method: str,
    ref: LabelledMask,
    ref_measures: dict[str, float],
    ref_lesions: pd.DataFrame,
    pred: LabelledMask,
    opts: MeasureOptions,
) -> tuple[list[dict], dict, pd.DataFrame]:
    pred_measures = measures_of(pred)
    inter = intersections(predicted=pred, reference=ref)
    ov = overlap_of(predicted=pred, reference=ref, inter=inter)
    det = detect_labelled(
        predicted=pred, reference=ref, criterion=opts.criterion, iou_threshold=opts.iou_threshold,
        compat=opts.compat, inter=inter,
    )  # fmt: skip
    rows = [
        {
            "case_id": case_id,
            "method": method,
            "metric": m,
            "reference": float(ref_measures[m]),
            "predicted": float(pred_measures[m]),
            "unit": UNITS[m],
        }
        for m in METRICS
    ]
    case_row = {
        "case_id": case_id,
        "method": method,
        **ov,
        "tp": det.tp,
        "fp": det.fp,
        "fn": det.fn,
        "f1": det.f1,
        "n_reference_lesions": ref.n,
        "n_predicted_lesions": pred.n,
        "scenario": scenario(ref.n),
    }
    matches = det.matches
    parts = []
    for side, table in (("reference", ref_lesions), ("predicted", pred.table())):
        side_matches = matches[matches["side"] == side].drop(columns="side")
        merged = table.merge(side_matches, on="lesion_id", how="left")
        merged.insert(0, "side", side)
        parts.append(merged)
    lesion_rows = pd.concat(parts, ignore_index=True)
    lesion_rows.insert(0, "method", method)
    lesion_rows.insert(0, "case_id", case_id)
    return rows, case_row, lesion_rows[LESION_TABLE_COLUMNS]


def measure_job(
    job: CaseJob, options: MeasureOptions | None = None, *, strict: bool = False
) -> CaseResult:
    """Measure one case for every method of ``job`` (failures per method go to ``failed``).

    A problem with the reference or the PET fails every method of the case; a problem with
    one prediction fails only that method. ``strict=True`` raises instead. With
    ``options.missing == "empty"`` the methods in ``job.missing`` are scored as empty masks.
    """
    opts = MeasureOptions() if options is None else options
    failed: list[dict] = []
    measurements: list[dict] = []
    cases: list[dict] = []
    lesion_parts: list[pd.DataFrame] = []
    empty = job.missing if opts.missing == "empty" and job.pet is not None else ()
    methods: dict[str, Path | None] = {**job.predictions, **dict.fromkeys(empty)}
    if not methods:
        return _result(measurements, cases, lesion_parts, failed)
    try:
        pet_vol = load_volume(job.pet, dtype=np.float32)
        ref_vol = _on_grid(load_mask(job.reference, pet_vol, roi=opts.roi), pet_vol)
        check_same_grid(ref_vol, pet_vol, hint=PET_GRID_HINT)
        ref_mask = mask_array(ref_vol, label=opts.reference_value)
        has_label = bool(ref_mask.any())
        pet = pet_array(pet_vol)
        ref = analyse(ref_mask, pet, ref_vol.spacing, opts.connectivity)
        ref_measures = measures_of(ref)
        ref_lesions = ref.table()
    except Exception as exc:
        if strict:
            raise
        reason = _reason(exc)
        failed = [{"case_id": job.case_id, "method": m, "reason": reason} for m in sorted(methods)]
        return _result(measurements, cases, lesion_parts, failed)
    for method, path in sorted(methods.items()):
        try:
            pred_mask = _prediction(path, ref_vol, ref_mask.shape, opts)
            pred = analyse(pred_mask, pet, ref_vol.spacing, opts.connectivity)
            rows, case_row, lesion_rows = _one_method(
                job.case_id, method, ref, ref_measures, ref_lesions, pred, opts
            )
        except Exception as exc:
            if strict:
                raise
            failed.append({"case_id": job.case_id, "method": method, "reason": _reason(exc)})
            continue
        measurements.extend(rows)
        cases.append(case_row)
        lesion_parts.append(lesion_rows)
    found = has_label if opts.reference_value is not None else None
    return _result(measurements, cases, lesion_parts, failed, found)


def measure_job_quietly(
    job: CaseJob, options: MeasureOptions | None = None, *, strict: bool = False
) -> CaseResult:
    """:func:`measure_job` with its warnings returned in ``CaseResult.warnings``.

    Worker processes print warnings in Python's raw format (with a source line); this keeps
    them with the result, so the caller shows each once, in its own words.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = measure_job(job, options, strict=strict)
    seen = dict.fromkeys((w.category, str(w.message)) for w in caught)
    return dataclasses.replace(result, warnings=tuple(seen)) if seen else result


def _prediction(
    path: Path | None, ref_vol: Any, shape: tuple[int, ...], opts: MeasureOptions
) -> np.ndarray:
    """The predicted mask on the reference grid; all zeros when there is no prediction."""
    if path is None:  # --missing empty
        return np.zeros(shape, np.bool_)
    pred_vol = _on_grid(load_mask(path, ref_vol, roi=opts.roi), ref_vol)
    pred_mask = mask_array(pred_vol, label=opts.pred_value)
    if opts.resample and not _same_grid(ref_vol, pred_vol):
        moving = type(pred_vol)(pred_mask.view(np.uint8), pred_vol.spacing, pred_vol.affine, path)
        return resample_nearest(moving, ref_vol).array.view(np.bool_)
    check_same_grid(ref_vol, pred_vol)
    return pred_mask


def _on_grid(mask: Volume, target: Volume) -> Volume:
    """A Slicer or DICOM SEG ``mask`` on ``target``'s grid when it is that grid cropped,
    permuted or flipped (those formats store the segments' extent in their own axis order)."""
    if mask.path is None or image_suffix(mask.path) not in CROPPED_FORMATS:
        return mask
    if mask.array.shape == target.array.shape and np.allclose(
        mask.affine, target.affine, rtol=0, atol=1e-3
    ):
        return mask
    aligned = align_exact(mask, target)
    return mask if aligned is None else aligned


def _same_grid(a: Any, b: Any) -> bool:
    try:
        check_same_grid(a, b)
    except ValueError:
        return False
    return True


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    from agreement.errors import InputError

    return first if isinstance(exc, InputError) else f"{type(exc).__name__}: {first}"


def _result(
    measurements: list[dict],
    cases: list[dict],
    lesion_parts: list[pd.DataFrame],
    failed: list[dict],
    label_found: bool | None = None,
) -> CaseResult:
    lesions = (
        pd.concat(lesion_parts, ignore_index=True)
        if lesion_parts
        else pd.DataFrame(columns=LESION_TABLE_COLUMNS)
    )
    return CaseResult(
        pd.DataFrame(measurements, columns=MEASUREMENT_COLUMNS),
        pd.DataFrame(cases, columns=CASE_COLUMNS),
        lesions,
        pd.DataFrame(failed, columns=FAILED_COLUMNS),
        label_found,
    )


def measure_case(
    pred_path: str | os.PathLike[str],
    ref_path: str | os.PathLike[str],
    pet_path: str | os.PathLike[str],
    *,
    case_id: str | None = None,
    method: str = "predicted",
    options: MeasureOptions | None = None,
    **legacy: Any,
) -> CaseResult:
    """Measure one predicted mask against its reference on the PET.

    Parameters
    ----------
    pred_path, ref_path, pet_path : path-like
        Predicted mask, reference mask, PET (SUV) volume, on one grid (or pass
        ``MeasureOptions(resample=True)``).
    case_id : str, optional
        Defaults to the reference file name without suffix.
    method : str
        The method name written in the tables.
    options : MeasureOptions, optional
        Connectivity, detection criterion, label values, resampling (default:
        ``MeasureOptions()``, the papers' choices).
    **legacy
        The keywords of the previous signature (``connectivity=``, ``criterion=``, ...):
        still accepted for one release with a DeprecationWarning.

    Returns
    -------
    CaseResult
        ``measurements`` (six rows), ``cases`` (one row), ``lesions`` (one row per reference
        and predicted lesion).

    Raises
    ------
    InputError
        Unreadable files, grids that differ, non-binary masks, NaN in the PET.

    Examples
    --------
    >>> import tempfile, pathlib, nibabel as nib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> m = np.zeros((8, 8, 8), np.uint8); m[2:4, 2:4, 2:4] = 1
    >>> for name, arr in [("ref", m), ("pred", m), ("pet", np.full(m.shape, 3.0, np.float32))]:
    ...     nib.save(nib.Nifti1Image(arr, np.diag([2.0, 2, 2, 1])), d / f"{name}.nii.gz")
    >>> r = measure_case(d / "pred.nii.gz", d / "ref.nii.gz", d / "pet.nii.gz",
    ...                  options=MeasureOptions(connectivity=6))
    >>> r.cases[["dsc", "tp", "fp", "fn", "scenario"]].to_dict("records")
    [{'dsc': 1.0, 'tp': 1, 'fp': 0, 'fn': 0, 'scenario': 'single'}]
    """
    options = with_legacy_keywords(options, legacy, "measure_case")
    job = CaseJob(
        case_id or case_stem(ref_path), Path(ref_path), Path(pet_path), {method: Path(pred_path)}
    )
    return measure_job(job, options, strict=True)
