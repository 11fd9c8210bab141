"""Lesion detection: TP/FP/FN/F1 and lesion-level matching (seed 000, section II-I).

Default rules (``compat=None``), with G the reference and P the predicted lesions:

* ``"suvmax"``: G_j is a TP when the voxel holding its SUVmax (first in raster order among
  ties) lies in any predicted lesion, else FN. P_i is an FP when it holds no reference
  SUVmax voxel. One prediction over two lesions detects both.
* ``"overlap"``: G_j is a TP when any predicted voxel touches it; P_i is an FP when it
  touches no reference voxel.
* ``"iou"``: one-to-one greedy matching by decreasing IoU, pairs with IoU ≥ threshold.

TP counts reference lesions, FN = n_reference − TP, F1 = TP / (TP + ½(FP + FN)), NaN when
TP + FP + FN = 0. A missed lesion (and a false-positive prediction) has lesion DSC 0.

``compat="reference"`` reproduces the papers' published code (criteria 1–3 of
``calculate_patient_level_tp_fp_fn``): see ``docs/measures.md`` for every difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from agreement.measures._keywords import masks_by_keyword
from agreement.measures.lesions import LabelledMask, analyse, as_mask, check_pair
from agreement.measures.options import DEFAULT, check_detection_args
from agreement.measures.overlap import intersections

MATCH_COLUMNS = ["side", "lesion_id", "status", "matched_id", "lesion_dsc"]


@dataclass(frozen=True, eq=False)
class DetectionResult:
    """Detection counts and the per-lesion matches.

    Attributes
    ----------
    tp, fp, fn : int
    f1 : float
        TP / (TP + ½(FP + FN)); NaN when all three are 0.
    criterion : str
    compat : str or None
    matches : pandas.DataFrame
        ``side`` (reference/predicted), ``lesion_id``, ``status`` (tp/fn/fp),
        ``matched_id`` (the lesion on the other side, or missing), ``lesion_dsc``.
    """

    tp: int
    fp: int
    fn: int
    f1: float
    criterion: str
    compat: str | None
    matches: pd.DataFrame

    def to_dict(self) -> dict[str, object]:
        """The counts, F1, the settings and the matches as a list of records."""
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "f1": self.f1,
            "criterion": self.criterion,
            "compat": self.compat,
            "matches": self.matches.to_dict("records"),
        }

    def __repr__(self) -> str:
        mode = f", compat={self.compat}" if self.compat else ""
        return (
            f"Detection({self.criterion}{mode}): TP={self.tp} FP={self.fp} FN={self.fn} "
            f"F1={self.f1:.3f}"
        )


def f1_score(tp: int, fp: int, fn: int) -> float:
    """TP / (TP + ½(FP + FN)); NaN when TP + FP + FN = 0.

    Examples
    --------
    >>> f1_score(4, 3, 1)
    0.6666666666666666
    """
    denom = tp + 0.5 * (fp + fn)
    return float(tp / denom) if tp + fp + fn > 0 else float("nan")


def detect_labelled(
    *,
    predicted: LabelledMask,
    reference: LabelledMask,
    criterion: str = DEFAULT.criterion,
    iou_threshold: float = DEFAULT.iou_threshold,
    compat: str | None = None,
    inter: np.ndarray | None = None,
) -> DetectionResult:
    """Detection from two labelled masks (see :func:`detect`)."""
    check_detection_args(criterion, iou_threshold, compat)
    if inter is None:
        inter = intersections(predicted=predicted, reference=reference)
    n_ref, n_pred = reference.n, predicted.n
    ref_match = np.zeros(n_ref, dtype=np.int64)  # matched predicted label, 0 none
    pred_match = np.zeros(n_pred, dtype=np.int64)  # matched reference label, 0 none
    ref_tp = np.zeros(n_ref, dtype=bool)
    pred_tp = np.zeros(n_pred, dtype=bool)
    union = predicted.voxels[:, None] + reference.voxels[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / np.maximum(union, 1), 0.0)

    if compat == "reference":
        _reference_rules(predicted, reference, inter, iou, criterion, iou_threshold,
                         ref_match, pred_match, ref_tp, pred_tp)  # fmt: skip
        if criterion == "overlap":  # criterion 1 counts TP on the predicted side
            tp, fp = int(pred_tp.sum()), int((~pred_tp).sum())
            fn = int((~ref_tp).sum())
        else:
            tp, fp, fn = int(ref_tp.sum()), int((~pred_tp).sum()), int((~ref_tp).sum())
    else:
        if criterion == "suvmax":
            holder = predicted.label_at(reference.peak) if n_ref else np.zeros(0, np.int64)
            ref_tp = holder > 0
            ref_match = holder
            for j in np.flatnonzero(ref_tp)[::-1]:  # smallest reference id wins
                pred_match[holder[j] - 1] = j + 1
            pred_tp = pred_match > 0
        elif criterion == "overlap":
            if n_ref and n_pred:
                ref_tp = inter.sum(axis=0) > 0
                pred_tp = inter.sum(axis=1) > 0
                ref_match = np.where(ref_tp, inter.argmax(axis=0) + 1, 0)
                pred_match = np.where(pred_tp, inter.argmax(axis=1) + 1, 0)
        else:
            pairs = np.argwhere((iou >= iou_threshold) & (inter > 0))
            order = np.lexsort((pairs[:, 1], pairs[:, 0], -iou[pairs[:, 0], pairs[:, 1]]))
            for i, j in pairs[order]:
                if not pred_tp[i] and not ref_tp[j]:
                    pred_tp[i] = ref_tp[j] = True
                    pred_match[i], ref_match[j] = j + 1, i + 1
        tp = int(ref_tp.sum())
        fn = n_ref - tp
        fp = int((~pred_tp).sum())

    if compat == "reference":
        dsc_ref_match, dsc_pred_match, missed = ref_match, pred_match, float("nan")
    else:  # paper 001 §2.7.2: lesion DSC pairs by voxel overlap, whatever the detection rule
        dsc_ref_match, dsc_pred_match = _largest_overlap(inter)
        missed = 0.0
    ref_dsc = _pair_dsc(predicted, reference, inter, dsc_ref_match, np.arange(n_ref), True, missed)
    pred_dsc = _pair_dsc(
        predicted, reference, inter, dsc_pred_match, np.arange(n_pred), False, missed
    )
    matches = pd.DataFrame(
        {
            "side": ["reference"] * n_ref + ["predicted"] * n_pred,
            "lesion_id": np.concatenate([np.arange(1, n_ref + 1), np.arange(1, n_pred + 1)]),
            "status": np.concatenate(
                [np.where(ref_tp, "tp", "fn"), np.where(pred_tp, "tp", "fp")]
            ).astype(object),
            "matched_id": pd.array(
                [int(m) if m > 0 else pd.NA for m in np.concatenate([ref_match, pred_match])],
                dtype="Int64",
            ),
            "lesion_dsc": np.concatenate([ref_dsc, pred_dsc]),
        },
        columns=MATCH_COLUMNS,
    )
    return DetectionResult(tp, fp, fn, f1_score(tp, fp, fn), criterion, compat, matches)


def _largest_overlap(inter: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each reference and each predicted lesion, the most-overlapping partner (0: none)."""
    n_pred, n_ref = inter.shape
    if n_pred == 0 or n_ref == 0:
        return np.zeros(n_ref, dtype=np.int64), np.zeros(n_pred, dtype=np.int64)
    ref = np.where(inter.max(axis=0) > 0, inter.argmax(axis=0) + 1, 0)
    pred = np.where(inter.max(axis=1) > 0, inter.argmax(axis=1) + 1, 0)
    return ref, pred


def _pair_dsc(
    predicted: LabelledMask,
    reference: LabelledMask,
    inter: np.ndarray,
    match: np.ndarray,
    rows: np.ndarray,
    reference_side: bool,
    missed: float,
) -> np.ndarray:
    """Lesion DSC 2|G_j ∩ P_i| / (|G_j| + |P_i|) of each lesion and its match."""
    out = np.full(len(rows), missed, dtype=float)
    for k in rows:
        m = match[k]
        if m == 0:
            continue
        i, j = (m - 1, k) if reference_side else (k, m - 1)
        out[k] = 2.0 * inter[i, j] / (predicted.voxels[i] + reference.voxels[j])
    return out


def _reference_rules(
    predicted: LabelledMask,
    reference: LabelledMask,
    inter: np.ndarray,
    iou: np.ndarray,
    criterion: str,
    iou_threshold: float,
    ref_match: np.ndarray,
    pred_match: np.ndarray,
    ref_tp: np.ndarray,
    pred_tp: np.ndarray,
) -> None:
    """The published code's criteria 1-3, filling the match arrays in place (no crashes)."""
    n_ref, n_pred = reference.n, predicted.n
    if criterion == "overlap":  # criterion 1: any overlap, counted on both sides separately
        if n_ref and n_pred:
            pred_tp[:] = inter.sum(axis=1) > 0
            ref_tp[:] = inter.sum(axis=0) > 0
            pred_match[:] = np.where(pred_tp, inter.argmax(axis=1) + 1, 0)
            ref_match[:] = np.where(ref_tp, inter.argmax(axis=0) + 1, 0)
        return
    peak_holder = predicted.label_at(reference.peak) if n_ref else np.zeros(0, np.int64)
    remaining = np.ones(n_ref, dtype=bool)
    # The published code labels SimpleITK arrays transposed to (x, y, z), which are Fortran
    # ordered, so cc3d numbers their lesions in Fortran raster order: iterate and break ties
    # in that order.
    ref_rank = _fortran_first(reference)
    for i in np.argsort(_fortran_first(predicted), kind="stable"):
        if n_ref == 0 or iou[i].max() <= 0:
            continue  # no overlap: FP (the published code tests voxel (0, 0, 0) here)
        tied = np.flatnonzero(iou[i] == iou[i].max())  # max IoU over all reference lesions
        j = int(tied[np.argmin(ref_rank[tied])])
        if criterion == "suvmax":  # criterion 3
            hit = peak_holder[j] == i + 1
        else:  # criterion 2
            hit = iou[i, j] >= iou_threshold and remaining[j]
        if hit:
            pred_tp[i] = True
            remaining[j] = False
            pred_match[i], ref_match[j] = j + 1, i + 1
    ref_tp[:] = ~remaining


def _fortran_first(lm: LabelledMask) -> np.ndarray:
    """Fortran-order flat index of each lesion's first voxel (its cc3d rank on F arrays)."""
    first = np.full(lm.n, np.iinfo(np.int64).max, dtype=np.int64)
    if lm.n:
        p = lm.points
        fidx = p[:, 0] + lm.shape[0] * (p[:, 1] + lm.shape[1] * p[:, 2])
        np.minimum.at(first, lm.labels - 1, fidx)
    return first


@masks_by_keyword
def detect(
    *,
    predicted: ArrayLike,
    reference: ArrayLike,
    pet: ArrayLike,
    criterion: Literal["suvmax", "overlap", "iou"] = DEFAULT.criterion,
    iou_threshold: float = DEFAULT.iou_threshold,
    connectivity: int = DEFAULT.connectivity,
    compat: Literal["reference"] | None = None,
) -> DetectionResult:
    """Match predicted to reference lesions and count TP, FP, FN.

    Every argument is passed by keyword (the masks' order changed from ``(reference,
    predicted)`` to ``(predicted, reference)``; a positional call raises a TypeError and
    ``reference_mask=``/``predicted_mask=`` still work with a DeprecationWarning for one
    release: ``docs/changes.md``).

    Parameters
    ----------
    predicted, reference : array_like of bool or 0/1, 3-D, same shape
    pet : array_like, same shape
        SUV, used to find each reference lesion's SUVmax voxel.
    criterion : {"suvmax", "overlap", "iou"}
        The detection rule (module docstring).
    iou_threshold : float
        For ``criterion="iou"``.
    connectivity : {6, 18, 26}
    compat : {None, "reference"}
        ``"reference"`` reproduces the published code's counts (max-IoU prerequisite,
        merged-lesion behaviour, missed-lesion DSC NaN) without its crashes.

    Returns
    -------
    DetectionResult

    Examples
    --------
    One predicted blob over two reference lesions:

    >>> g = np.zeros((3, 3, 7), bool); g[1, 1, 0:3] = g[1, 1, 4:7] = True
    >>> p = np.zeros((3, 3, 7), bool); p[1, 1, :] = True
    >>> pet = np.ones((3, 3, 7))
    >>> detect(predicted=p, reference=g, pet=pet)
    Detection(suvmax): TP=2 FP=0 FN=0 F1=1.000
    >>> detect(predicted=p, reference=g, pet=pet, compat="reference")
    Detection(suvmax, compat=reference): TP=1 FP=0 FN=1 F1=0.667
    """
    g = as_mask(reference, "reference")
    p = as_mask(predicted, "predicted")
    pet = np.asarray(pet)
    check_pair(p, g, "predicted", "reference")
    check_pair(g, pet, "reference", "pet")
    check_detection_args(criterion, iou_threshold, compat)
    spacing = (1.0, 1.0, 1.0)  # detection works in voxel index space
    ref = analyse(g, pet, spacing, connectivity)
    pred = analyse(p, None, spacing, connectivity)
    return detect_labelled(
        predicted=pred, reference=ref, criterion=criterion, iou_threshold=iou_threshold,
        compat=compat,
    )  # fmt: skip
