"""Independent brute-force implementations and tiny NIfTI cohorts for the measures tests.

The oracles use scipy.ndimage labelling (with the structuring element of each connectivity),
all-pairs distances (scipy.spatial.distance.pdist) and one full-volume mask per lesion, as
the published research code does (seed_code.md §8); none of them calls agreement code.
"""

from __future__ import annotations

import types
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial.distance import pdist

STRUCTURES = {c: ndimage.generate_binary_structure(3, r) for c, r in ((6, 1), (18, 2), (26, 3))}


def bf_label(mask, connectivity=18):
    return ndimage.label(mask, STRUCTURES[connectivity])


def bf_dmax_mm(points, spacing):
    if len(points) < 2:
        return 0.0
    return float(pdist(np.asarray(points, float) * np.asarray(spacing, float)).max())


def bf_quantify(mask, pet, spacing, connectivity=18):
    mask = mask.astype(bool)
    voxel_ml = float(np.prod(spacing)) / 1000
    labels, n = bf_label(mask, connectivity)
    if n == 0:
        return dict(suv_max=0.0, suv_mean=0.0, tla=0.0, tmtv=0.0, lesion_count=0, dmax=0.0)
    tla = 0.0
    for i in range(1, n + 1):
        lesion = labels == i
        tla += pet[lesion].mean() * lesion.sum() * voxel_ml
    return dict(
        suv_max=float(pet[mask].max()),
        suv_mean=float(pet[mask].astype(np.float64).mean()),
        tla=float(tla),
        tmtv=float(mask.sum() * voxel_ml),
        lesion_count=n,
        dmax=bf_dmax_mm(np.argwhere(mask), spacing) / 10,
    )


def bf_lesions(mask, pet, spacing, connectivity=18):
    voxel_ml = float(np.prod(spacing)) / 1000
    labels, n = bf_label(mask, connectivity)
    rows = []
    for i in range(1, n + 1):
        lesion = labels == i
        rows.append(
            dict(
                lesion_id=i,
                voxels=int(lesion.sum()),
                volume=lesion.sum() * voxel_ml,
                suv_max=float(pet[lesion].max()),
                suv_mean=float(pet[lesion].astype(np.float64).mean()),
                tla=float(pet[lesion].astype(np.float64).mean() * lesion.sum() * voxel_ml),
                dmax=bf_dmax_mm(np.argwhere(lesion), spacing) / 10,
            )
        )
    return rows


def bf_overlap(gt, pred, spacing, connectivity=18):
    """lab-midas/autoPET val_script.py definitions, one np.isin mask per component."""
    gt, pred = gt.astype(np.float64), pred.astype(np.float64)
    voxel_ml = float(np.prod(spacing)) / 1000
    total = gt.sum() + pred.sum()
    dsc = 2 * (gt * pred).sum() / total if total else float("nan")
    pl, pn = bf_label(pred > 0, connectivity)
    fp = sum((pl == i).sum() for i in range(1, pn + 1) if ((pl == i) * gt).sum() == 0)
    gl, gn = bf_label(gt > 0, connectivity)
    fn = sum((gl == i).sum() for i in range(1, gn + 1) if ((gl == i) * pred).sum() == 0)
    return dict(dsc=dsc, fpv=fp * voxel_ml, fnv=fn * voxel_ml)


def published_detection(gt, pred, pet, criterion, threshold=0.5, connectivity=18):
    """The published calculate_patient_level_tp_fp_fn (criteria 1-3), written out naively.

    Source: ObedDzik/pca_segment metrics/metrics.py @ 67ac5b2 as documented in
    shared/notes/seed_code.md §8.1 (max-IoU match over all reference lesions, strict '>' so
    the first maximum wins, argmax of GT*PET in C order for the SUVmax voxel).
    """
    # The published code runs cc3d on SimpleITK arrays transposed to (x, y, z) (Fortran
    # ordered), so lesions are numbered in Fortran raster order: label the transpose.
    gl, gn = bf_label((gt > 0).T, connectivity)
    plab, pn = bf_label((pred > 0).T, connectivity)
    gl, plab = gl.T, plab.T
    remaining = list(range(1, gn + 1))
    tp, fp, fn = 0, 0, gn
    if criterion == "criterion1":
        fn = 0
        for i in range(1, pn + 1):
            if np.any((plab == i) & (gl > 0)):
                tp += 1
            else:
                fp += 1
        for j in range(1, gn + 1):
            if not np.any((gl == j) & (plab > 0)):
                fn += 1
        return tp, fp, fn
    for i in range(1, pn + 1):
        max_iou, match = 0, None
        pmask = np.where(plab == i, 1, 0)
        for j in range(1, gn + 1):
            gmask = np.where(gl == j, 1, 0)
            inter = np.sum(pmask[gmask == 1])
            iou = inter / (gmask.sum() + pmask.sum() - inter)
            if iou > max_iou:
                max_iou, match = iou, j
        if criterion == "criterion2":
            if max_iou >= threshold:
                tp += 1
                remaining.remove(match)
            else:
                fp += 1
        else:
            gmask = np.where(gl == match, 1, 0)
            prod = gmask * pet
            peak = np.unravel_index(np.argmax(prod), prod.shape)
            if pmask[peak] == 1:
                tp += 1
                remaining.remove(match)
            else:
                fp += 1
    return tp, fp, len(remaining)


def random_case(rng, shape=None, n_blobs=None):
    """A reference with blobs, a perturbed prediction, positive PET (voxel 0,0,0 empty)."""
    shape = shape or tuple(int(s) for s in rng.integers(8, 18, size=3))
    n_blobs = n_blobs if n_blobs is not None else int(rng.integers(0, 5))
    ref = np.zeros(shape, bool)
    for _ in range(n_blobs):
        centre = [rng.integers(0, s) for s in shape]
        radius = rng.uniform(0.6, 3.0, size=3)
        grid = np.ogrid[tuple(slice(0, s) for s in shape)]
        ref |= sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radius, strict=True)) <= 1
    pred = ref.copy()
    op = rng.integers(0, 4)
    if op == 0:
        pred = ndimage.binary_dilation(pred)
    elif op == 1:
        pred = ndimage.binary_erosion(pred)
    elif op == 2:
        pred = np.roll(pred, int(rng.integers(-2, 3)), axis=int(rng.integers(0, 3)))
    pred |= rng.random(shape) < 0.01
    pred &= rng.random(shape) > 0.05
    pet = rng.uniform(0.5, 10.0, size=shape).astype(np.float32)
    if rng.random() < 0.5:
        pet = np.round(pet).astype(np.float32)  # ties in SUVmax
    ref[0, 0, 0] = pred[0, 0, 0] = False  # the published code's None match tests voxel 0,0,0
    spacing = tuple(float(s) for s in rng.choice([0.98, 2.0, 3.27, 3.64, 4.0728], size=3))
    return ref, pred, pet, spacing


def write_nifti(path: Path, array, spacing=(2.0, 2.0, 3.0)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(array), np.diag([*spacing, 1.0])), path)
    return path


def make_cohort(root: Path, cases=("c1", "c2"), methods=("unet",), seed=0) -> dict[str, Path]:
    """pred/<method>/<case>.nii.gz, ref/<case>.nii.gz, pet/<case>.nii.gz (10×10×10)."""
    rng = np.random.default_rng(seed)
    for case in cases:
        ref = np.zeros((10, 10, 10), np.uint8)
        ref[1:4, 1:4, 1:4] = 1
        ref[6:8, 6:9, 6:8] = 1
        pet = rng.uniform(0.5, 2.0, ref.shape).astype(np.float32) + 4 * ref
        write_nifti(root / "ref" / f"{case}.nii.gz", ref)
        write_nifti(root / "pet" / f"{case}.nii.gz", pet)
        for k, method in enumerate(methods):
            pred = ref.copy()
            pred[6:8, 6:9, 6:8] = 0 if k % 2 else 1
            pred[9, 0, 9] = 1
            write_nifti(root / "pred" / method / f"{case}.nii.gz", pred)
    return {"pred": root / "pred", "ref": root / "ref", "pet": root / "pet"}


@pytest.fixture
def brute():
    return types.SimpleNamespace(
        label=bf_label,
        dmax_mm=bf_dmax_mm,
        quantify=bf_quantify,
        lesions=bf_lesions,
        overlap=bf_overlap,
        published_detection=published_detection,
        random_case=random_case,
    )


@pytest.fixture
def nifti():
    return types.SimpleNamespace(write=write_nifti, cohort=make_cohort)
