"""``agree convert``: a tree of DICOM studies in, an nnU-Net raw dataset out.

Per study: PET as body-weight SUV (``imagesTr/<case>_0001.nii.gz``, float32), CT in HU resampled
onto the PET grid (``_0000``, linear, −1024 outside, int16), the lesion mask on the PET grid from
the RTSTRUCT ROIs and/or DICOM SEG segments matching a name pattern (``labelsTr/<case>.nii.gz``),
then ``dataset.json`` and ``conversion.csv`` (the SUV factor and every DICOM value it used).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agreement.dicom.discover import Series, Study, find_studies
from agreement.dicom.geometry import Slices, Volume, stack
from agreement.dicom.resample import is_axis_aligned, resample_onto, resample_slices
from agreement.dicom.seg import seg_mask
from agreement.dicom.suv import suv_factor
from agreement.errors import InputError

FAILED_COLUMNS = ["case_id", "study_uid", "folder", "reason"]
CT_OUTSIDE = -1024.0


@dataclass(frozen=True)
class ConversionResult:
    """What a conversion wrote: one ``conversion`` row per case, one ``failed`` row per study
    that could not be converted, and notes on inputs that were not used."""

    conversion: pd.DataFrame
    failed: pd.DataFrame
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line: cases converted, studies failed with their reasons."""
        line = f"converted {len(self.conversion)} case(s)"
        if len(self.failed):
            reasons = "; ".join(
                f"{r.case_id}: {r.reason}" for r in self.failed.head(3).itertuples()
            )
            more = f" (+{len(self.failed) - 3} more)" if len(self.failed) > 3 else ""
            line += f"; {len(self.failed)} failed: {reasons}{more}"
        return line


def case_ids(studies: list[Study]) -> list[str]:
    """PatientID (made file-name safe), with ``_<StudyDate>`` when a patient has several studies.

    Examples
    --------
    >>> from agreement.dicom.discover import Study
    >>> from pathlib import Path
    >>> case_ids([Study("1", "P 1", "20200101", Path()), Study("2", "P 1", "20210101", Path()),
    ...           Study("3", "Q", "", Path())])
    ['P_1_20200101', 'P_1_20210101', 'Q']
    """
    safe = [re.sub(r"[^A-Za-z0-9.-]+", "_", s.patient_id).strip("_") or "unknown" for s in studies]
    per_patient = Counter(safe)
    ids = [f"{b}_{s.study_date or 'study'}" if per_patient[b] > 1 else b
           for b, s in zip(safe, studies, strict=True)]  # fmt: skip
    seen: Counter[str] = Counter()
    out = []
    for case in ids:
        seen[case] += 1
        out.append(case if seen[case] == 1 else f"{case}_{seen[case]}")
    return out


def _pick_pet(study: Study) -> Series:
    series = study.of("PT")
    if not series:
        raise InputError(f"{study.folder}: no PET series (Modality PT) in study {study.uid}")
    corrected = [s for s in series if "ATTN" in s.corrected] or series
    if len(corrected) > 1:
        names = ", ".join(f"{s.description or s.uid} ({len(s.files)} files)" for s in corrected)
        raise InputError(f"{study.folder}: {len(corrected)} attenuation-corrected PET series "
                         f"({names}); keep one per study")  # fmt: skip
    return corrected[0]


def _pick_ct(study: Study, pet: Series) -> Series | None:
    series = [s for s in study.of("CT") if "LOCALIZER" not in s.image_type and len(s.files) > 1]
    if not series:
        return None
    # the CT in the PET's frame of reference, then the one with most slices
    return max(series, key=lambda s: (s.frame_of_reference == pet.frame_of_reference, len(s.files)))


def _ct_on_pet(items: list[tuple[Path, Any]], pet: Volume) -> np.ndarray:
    """The CT in HU on the PET grid, int16 (rounded to the nearest HU), ``CT_OUTSIDE`` outside.

    Axis-aligned grids are interpolated slice by slice as the CT files are read (the CT is
    never held whole); oblique ones are stacked first.
    """
    ct = Slices(items)
    matrix = np.linalg.inv(ct.affine_lps) @ pet.affine_lps
    if is_axis_aligned(matrix):
        return resample_slices(ct.read, ct.shape, ct.affine_lps, pet.array.shape, pet.affine_lps,
                               fill=CT_OUTSIDE, scales=ct.scales, dtype=np.int16)  # fmt: skip
    volume = stack(items, rescale=False)  # the stored integers: half the memory of float32
    slope, intercept = volume.rescale
    on_pet = resample_onto(volume.array, volume.affine_lps, pet.array.shape, pet.affine_lps,
                           order=1, fill=(CT_OUTSIDE - intercept) / slope)  # fmt: skip
    del volume
    on_pet = np.rint(on_pet * np.float32(slope) + np.float32(intercept))
    return np.asfortranarray(np.clip(on_pet, -32768, 32767).astype(np.int16))


def _gzip_writer(path: Path) -> Any:
    """A gzip file to write: ISA-L's deflate (python-isal, several times faster than zlib at
    a similar size) when installed, else zlib level 1. ``mtime=0``: same input, same bytes."""
    try:
        from isal import igzip
    except ImportError:
        import gzip

        return gzip.GzipFile(path, "wb", compresslevel=1, mtime=0)
    return igzip.IGzipFile(path, "wb", compresslevel=2, mtime=0)


def _save(array: np.ndarray, affine: np.ndarray, path: Path) -> None:
    import nibabel as nib

    image = nib.Nifti1Image(array, affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    with _gzip_writer(path) as file:
        image.to_file_map({"image": nib.FileHolder(fileobj=file)})


def _read_whole(path: Path) -> Any:
    from agreement.dicom._require import pydicom

    try:
        return pydicom().dcmread(path)
    except Exception as exc:
        raise InputError(f"{path}: cannot read DICOM ({type(exc).__name__}: {exc})") from None


def _label(
    study: Study, pet: Volume, roi: str, frame: str = ""
) -> tuple[np.ndarray | None, dict[str, Any]]:
    from agreement.dicom.rtstruct import rasterise

    sources = [(s, f) for s in study.of("RTSTRUCT") + study.of("SEG") for f in s.files]
    if not sources:
        return None, {"label_source": "", "rois": "", "label_note": "no RTSTRUCT or SEG: no label"}
    mask = np.zeros(pet.array.shape, np.uint8, order="F")
    matched, available = [], []
    for series, path in sources:
        if series.modality == "RTSTRUCT":
            ds = _read_whole(path)  # contours in one read, not one file access per contour
            part, names, everything = rasterise(ds, path, pet.array.shape, pet.affine_lps, roi,
                                                frame=frame, series=list(study.series))  # fmt: skip
        else:
            part, names, everything = seg_mask(path, pet.array.shape, pet.affine_lps, roi)
        mask |= part
        matched += names
        available += everything
    kinds = "+".join(sorted({s.modality for s, _ in sources}))
    note = ""
    if not matched:
        have = ", ".join(sorted(set(available))) or "none"
        note = f"no ROI matches {roi!r} (have: {have}); empty mask"
    return mask, {"label_source": kinds, "rois": "; ".join(matched), "label_note": note}


def _convert_study(
    study: Study, case_id: str, folder: Path, *, roi: str = "lesion*"
) -> dict[str, Any]:
    """Convert one study into ``folder/imagesTr`` and ``folder/labelsTr``; return its row."""
    pet_series = _pick_pet(study)
    pet = stack(pet_series.items())
    suv = suv_factor(pet.headers, pet.files[0])
    np.multiply(pet.array, np.float32(suv.factor), out=pet.array)
    written: list[Path] = []
    # each file is written as soon as it is complete; a second thread to compress while the CT
    # is read gained nothing measurable (bench/bench_convert.py --variants, docs/benchmarks.md)

    def save(array: np.ndarray, path: Path) -> None:
        written.append(path)
        _save(array, pet.affine, path)

    try:
        images, labels = folder / "imagesTr", folder / "labelsTr"
        images.mkdir(exist_ok=True)
        labels.mkdir(exist_ok=True)
        row: dict[str, Any] = {"case_id": case_id, "patient_id": study.patient_id,
                               "study_uid": study.uid, "pet_series_uid": pet_series.uid,
                               "pet_files": len(pet.files), "pet_shape": "x".join(map(str, pet.array.shape))}  # fmt: skip
        save(pet.array, images / f"{case_id}_0001.nii.gz")
        ct_series = _pick_ct(study, pet_series)
        if ct_series is not None:
            on_pet = _ct_on_pet(ct_series.items(), pet)
            save(on_pet, images / f"{case_id}_0000.nii.gz")
            row.update(ct_series_uid=ct_series.uid, ct_files=len(ct_series.files))
        else:
            row.update(ct_series_uid="", ct_files=0)
        mask, label_info = _label(study, pet, roi, pet_series.frame_of_reference)
        if mask is not None:
            save(np.asfortranarray(mask), labels / f"{case_id}.nii.gz")
        row.update(label_info, label_voxels=int(mask.sum()) if mask is not None else 0)
        if ct_series is None:
            row["label_note"] = "; ".join(
                filter(None, [row["label_note"], "no CT series: no _0000 image"])
            )
        row["pet_first_file"] = str(pet.files[0])
        return {**row, **suv.to_dict()}
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def convert_dicom(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    roi: str = "lesion*",
    strict: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
) -> ConversionResult:
    """Convert every study under ``source`` into an nnU-Net raw dataset at ``output``.

    Parameters
    ----------
    source : path
        A folder of DICOM files (any nesting, any file names); never modified.
    output : path
        The dataset folder, written completely or not at all (refused if it exists unless
        ``overwrite``).
    roi : str
        Shell pattern, case-insensitive, for the RTSTRUCT ROI names / SEG segment labels that
        make up the lesion mask (the papers' code kept ``lesion*``).
    strict : bool
        Stop at the first study that fails (raise) instead of listing it in ``failed``.
    overwrite : bool
        Replace an existing ``output``.
    progress : bool or None
        Progress bar over studies; None shows it only when stderr is a terminal.

    Returns
    -------
    ConversionResult
        ``conversion`` (one row per case), ``failed`` (``case_id, study_uid, folder, reason``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> src = pathlib.Path(tempfile.mkdtemp())
    >>> convert_dicom(src, src / "out")
    Traceback (most recent call last):
    ...
    agreement.errors.InputError: ...: no DICOM PET, CT, RTSTRUCT or SEG files
    """
    from tqdm.auto import tqdm

    from agreement.atomic import atomic_dir

    source, output = Path(source), Path(output)
    studies, notes = find_studies(source)
    if not studies:
        detail = f" ({'; '.join(notes)})" if notes else ""
        raise InputError(f"{source}: no DICOM PET, CT, RTSTRUCT or SEG files{detail}")
    ids = case_ids(studies)
    rows, failed = [], []
    with atomic_dir(output, overwrite=overwrite) as tmp:
        bar = tqdm(total=len(studies), unit="study", desc="convert", leave=False,
                   disable=None if progress is None else not progress)  # fmt: skip
        try:
            for study, case_id in zip(studies, ids, strict=True):
                try:
                    rows.append(_convert_study(study, case_id, tmp, roi=roi))
                    study.release()
                except InputError as exc:
                    study.release()
                    if strict:
                        raise
                    failed.append({"case_id": case_id, "study_uid": study.uid,
                                   "folder": str(study.folder), "reason": str(exc)})  # fmt: skip
                bar.update()
        finally:
            bar.close()
        if not rows:
            more = f" (and {len(failed) - 1} more failed studies)" if len(failed) > 1 else ""
            raise InputError(failed[0]["reason"] + more)
        conversion = pd.DataFrame(rows)
        failed_table = pd.DataFrame(failed, columns=FAILED_COLUMNS)
        _write_tables(tmp, output.name, conversion, failed_table)
    return ConversionResult(conversion, failed_table, tuple(notes))


def _write_tables(folder: Path, name: str, conversion: pd.DataFrame, failed: pd.DataFrame) -> None:
    from agreement.tables import write_table

    dataset = {
        "name": name,
        "description": "Converted from DICOM by agree convert (SUVbw PET, CT on the PET grid)",
        "channel_names": {"0": "CT", "1": "PET"},
        "labels": {"background": 0, "lesion": 1},
        "numTraining": int(len(conversion)),
        "file_ending": ".nii.gz",
    }
    (folder / "dataset.json").write_text(json.dumps(dataset, indent=2) + "\n")
    write_table(conversion, folder / "conversion.csv")
    if len(failed):
        write_table(failed, folder / "failed.csv")
