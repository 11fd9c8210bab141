"""Per-case rows of the report: every measure of one case, and a small MIP of its PET.

The outlier tables link each case id to a block here, so a reader who sees a large difference
can find the case and look at it: the six measures for the reference and each method, DSC and
TP/FP/FN, and, where the volumes are at hand, a coronal maximum-intensity projection of the PET
with the reference (green) and the predicted (vermillion) outlines.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agreement.report.html import Cell, HtmlTable, cell
from agreement.tables import METRIC_LABELS, METRICS

REFERENCE_RGB = (0, 158, 115)  # Okabe-Ito bluish green
PREDICTED_RGB = (213, 94, 0)  # Okabe-Ito vermillion


def anchors(case_ids: Sequence[str]) -> dict[str, str]:
    """In-page anchors ``#case-1``, ``#case-2``, … (case ids may hold any character).

    Examples
    --------
    >>> anchors(["b", "a", "b"])
    {'b': '#case-1', 'a': '#case-2'}
    """
    return {c: f"#case-{i}" for i, c in enumerate(dict.fromkeys(map(str, case_ids)), 1)}


def case_table(case_id: str, measurements: pd.DataFrame, cases: pd.DataFrame | None) -> HtmlTable:
    """Rows: the reference, then each method; columns: the six measures, DSC, TP, FP, FN.

    Examples
    --------
    >>> m = pd.DataFrame({"case_id": "a", "method": ["x", "x"], "metric": ["tmtv", "suv_max"],
    ...                   "reference": [2.0, 5.0], "predicted": [3.0, 6.0]})
    >>> t = case_table("a", m, None)
    >>> t.columns, [[getattr(c, "text", c) for c in r] for r in t.rows]
    (['Source', 'SUVmax', 'TMTV'], [['reference', '5.00', '2.00'], ['x', '6.00', '3.00']])
    """
    rows_m = measurements[measurements["case_id"].astype(str) == case_id]
    present = set(rows_m["metric"])
    metrics = [m for m in METRICS if m in present] + sorted(present - set(METRICS))
    # the first non-missing value of each (method, metric), and of each metric's reference
    known = rows_m.dropna(subset=["predicted"]).drop_duplicates(["method", "metric"])
    triples = zip(known["method"], known["metric"], known["predicted"], strict=True)
    predicted = {(str(k), m): v for k, m, v in triples}
    with_values = {k for k, _ in predicted}
    known = rows_m.dropna(subset=["reference"]).drop_duplicates("metric")
    ref = dict(zip(known["metric"], known["reference"], strict=True))
    extra = ["dsc", "tp", "fp", "fn"]
    c = None  # method -> its DSC, TP, FP, FN (the first row of the method)
    if cases is not None and {"case_id", "method", *extra} <= set(cases.columns):
        rows_c = cases[cases["case_id"].astype(str) == case_id].drop_duplicates("method")
        columns_c = [rows_c[k].tolist() for k in extra]
        c = {m: [col[i] for col in columns_c] for i, m in enumerate(rows_c["method"])} or None
    columns = ["Source"] + [str(METRIC_LABELS.get(m, m)) for m in metrics]
    columns += ["DSC", "TP", "FP", "FN"] if c is not None else []
    rows: list[list[str | Cell]] = [
        ["reference", *[cell(ref.get(m), integer=m == "lesion_count") for m in metrics],
         *(["", "", "", ""] if c is not None else [])]
    ]  # fmt: skip
    for method in dict.fromkeys(rows_m["method"].astype(str)):
        row: list[str | Cell] = [Cell(method, cls="method")]
        row += [
            cell(predicted.get((method, m)), integer=m == "lesion_count")
            if method in with_values
            else "—"
            for m in metrics
        ]
        if c is not None:
            row += [cell(v) for v in c[method]] if method in c else ["—"] * len(extra)
        rows.append(row)
    return HtmlTable(columns, rows, [False] + [True] * (len(columns) - 1))


def _outline(mask: np.ndarray) -> np.ndarray:
    from scipy.ndimage import binary_erosion

    return mask & ~binary_erosion(mask)


def mip_png(
    pet: np.ndarray,
    reference: np.ndarray,
    predicted: np.ndarray | None,
    spacing: Sequence[float],
    *,
    height: int = 180,
) -> bytes:
    """A coronal MIP (projection along the second array axis) as PNG bytes, head up.

    PET in inverted grey (dark = high uptake, clipped at the 99.5th percentile), the reference
    outline in green and the predicted outline in vermillion, scaled to about ``height`` pixels
    with the voxel spacing respected.

    Examples
    --------
    >>> pet = np.zeros((8, 8, 12), np.float32); pet[3:5, 3:5, 4:7] = 5
    >>> png = mip_png(pet, pet > 0, pet > 4, (2.0, 2.0, 2.0), height=48)
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    from matplotlib.image import imsave

    mip = pet.max(axis=1).T[::-1]  # (z, x), head up for RAS-like arrays
    top = float(np.percentile(mip, 99.5)) or 1.0
    grey = 1.0 - np.clip(mip / top, 0.0, 1.0)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    for mask, colour in ((reference, REFERENCE_RGB), (predicted, PREDICTED_RGB)):
        if mask is not None:
            edge = _outline(mask.max(axis=1).T[::-1])
            rgb[edge] = np.asarray(colour) / 255.0
    sx, sz = float(spacing[0]), float(spacing[2])
    fz = max(1, round(height / rgb.shape[0]))
    fx = max(1, round(fz * sx / sz))
    rgb = np.repeat(np.repeat(rgb, fz, axis=0), fx, axis=1)
    buf = io.BytesIO()
    imsave(buf, rgb, format="png")
    return buf.getvalue()


def thumbnail(paths: Mapping[str, Any], method: str | None) -> tuple[str, str]:
    """A ``data:`` URI of :func:`mip_png` for one case and "", or "" and why there is none.

    ``paths`` holds ``pet``, ``reference`` and ``predictions`` (method → path).
    """
    from agreement.errors import InputError
    from agreement.measures.io import load_volume, mask_array, pet_array

    try:
        pet = load_volume(Path(paths["pet"]))
        ref = mask_array(load_volume(Path(paths["reference"])))
        pred_path = paths.get("predictions", {}).get(method) if method else None
        pred = mask_array(load_volume(Path(pred_path))) if pred_path else None
        pet_values = pet_array(pet)
        if ref.shape != pet_values.shape or (pred is not None and pred.shape != ref.shape):
            return "", "no thumbnail: the masks are not on the PET grid"
        png = mip_png(pet_values, ref, pred, pet.spacing)
    except (InputError, OSError, ValueError) as exc:
        return "", f"no thumbnail: {exc}"
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii"), ""


def case_details(
    outliers: pd.DataFrame,
    measurements: pd.DataFrame,
    cases: pd.DataFrame | None,
    volumes: Mapping[str, Mapping[str, Any]] | None,
) -> list[dict[str, Any]]:
    """One block per case named in ``outliers``: anchor, table, thumbnail and its caption.

    The thumbnail shows the prediction of the method with the case's largest |difference|.
    """
    if outliers is None or outliers.empty:
        return []
    links = anchors(outliers["case_id"])
    # the outliers' rows once, then each case's from those (the tables hold every case)
    measurements = measurements[measurements["case_id"].astype(str).isin(links)]
    if cases is not None and "case_id" in cases.columns:
        cases = cases[cases["case_id"].astype(str).isin(links)]
    blocks = []
    for case_id, anchor in links.items():
        rows = outliers[outliers["case_id"].astype(str) == case_id]
        worst = rows.loc[rows["difference"].abs().idxmax()]
        method = str(worst["method"])
        src, why = "", "no thumbnail: the report was made from tables, not images"
        if volumes and case_id in volumes:
            src, why = thumbnail(volumes[case_id], method)
        blocks.append(
            {
                "anchor": anchor[1:],
                "case_id": case_id,
                "table": case_table(case_id, measurements, cases),
                "thumb": src,
                "thumb_caption": f"PET MIP; reference green, {method} vermillion" if src else why,
            }
        )
    return blocks


def cohort_inputs(
    pred: Path | None,
    reference: Path | None,
    pet: Path | None,
    shard: str | None = None,
    pet_channel: str | None = None,
    missing: str | None = "skip",
    datalist: Path | None = None,
) -> tuple[list[Path], dict[str, dict[str, Any]]]:
    """Every input file of a cohort (for the checksums) and, per case, its volumes (thumbnails).

    Arguments as :func:`agreement.measure_cohort`; the volumes are what
    :func:`case_details` draws for :func:`agreement.write_report`'s ``volumes``.
    """
    from agreement.measures.cohort import parse_shard
    from agreement.measures.layout import plan_cohort

    plan = plan_cohort(pred, reference, pet, pet_channel=pet_channel, datalist=datalist)
    parsed = parse_shard(shard) if shard else None
    if parsed is not None:
        plan = plan.shard(*parsed)
    files: dict[Path, None] = {}
    volumes = {}
    for job in plan.jobs:
        if not job.predictions and (missing != "empty" or job.pet is None):
            continue  # a reference case without any prediction, not read
        for path in (job.reference, job.pet, *job.predictions.values()):
            files[Path(path)] = None
        volumes[str(job.case_id)] = {
            "pet": job.pet,
            "reference": job.reference,
            "predictions": dict(job.predictions),
        }
    return list(files), volumes


__all__ = ["anchors", "case_details", "case_table", "cohort_inputs", "mip_png", "thumbnail"]
