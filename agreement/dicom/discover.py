"""Find the studies and series in a tree of DICOM files (headers; pixel data stays on disk)."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agreement.dicom._require import pydicom
from agreement.errors import InputError

# Values larger than this stay in the file until used (pixel data, contour points): each
# file is parsed once, and its pixels are read once, when the series is stacked.
DEFER = 4096
# Trees of up to this many files keep every parsed header (12-50 kB each) until their study is
# converted, so each file is parsed once; larger trees are parsed again study by study.
KEEP_HEADERS = 5000
MODALITIES = ("PT", "CT", "RTSTRUCT", "SEG")


@dataclass
class Series:
    """One series: its UID, modality, files and headers (in the order found; geometry sorts
    them). Large values (pixel data) are read from the file when first used."""

    uid: str
    modality: str
    description: str = ""
    frame_of_reference: str = ""
    image_type: tuple[str, ...] = ()
    corrected: tuple[str, ...] = ()
    files: list[Path] = field(default_factory=list)
    headers: list[Any] = field(default_factory=list)

    def items(self) -> list[tuple[Path, Any]]:
        """(file, header) pairs: the headers kept by discovery, else read again now."""
        if len(self.headers) == len(self.files):
            return list(zip(self.files, self.headers, strict=True))
        from agreement.dicom.geometry import read_series

        return read_series(self.files)


@dataclass
class Study:
    """One study of one patient, with its series by modality."""

    uid: str
    patient_id: str
    study_date: str
    folder: Path
    series: dict[str, Series] = field(default_factory=dict)

    def release(self) -> None:
        """Drop the headers kept by discovery (once the study is converted)."""
        for series in self.series.values():
            series.headers.clear()

    def of(self, modality: str) -> list[Series]:
        """The series of ``modality`` (``PT``, ``CT``, ``RTSTRUCT``, ``SEG``), by UID."""
        return sorted((s for s in self.series.values() if s.modality == modality),
                      key=lambda s: s.uid)  # fmt: skip


def _text(value: object) -> str:
    return str(value).strip() if value is not None else ""


# (0008,0060) Modality, (0020,000D) StudyInstanceUID, (0020,000E) SeriesInstanceUID
MODALITY, STUDY_UID, SERIES_UID = 0x00080060, 0x0020000D, 0x0020000E


def _raw_text(ds: Any, tag: int) -> str | None:
    """A short text value straight from its bytes (pydicom's conversion costs more than the
    parse of a whole header when done for every file); None when absent.

    Examples
    --------
    >>> from pydicom import Dataset
    >>> ds = Dataset()
    >>> ds.Modality = "PT"
    >>> _raw_text(ds, MODALITY), _raw_text(ds, STUDY_UID)
    ('PT', None)
    """
    elem = ds.get_item(tag)
    if elem is None:
        return None
    value = elem.value
    if isinstance(value, bytes | bytearray):
        return value.decode("ascii", "replace").strip(" \x00")
    return _text(value)


def _values(value: object) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(v.strip().upper() for v in value.split("\\"))
    return tuple(str(v).strip().upper() for v in value)


def find_studies(root: str | os.PathLike[str]) -> tuple[list[Study], list[str]]:
    """Group the DICOM files under ``root`` by study and series.

    Parameters
    ----------
    root : path
        A folder searched recursively (or one file). Files that are not DICOM, and DICOM
        objects of other modalities, are counted in the notes, never silently dropped.

    Returns
    -------
    studies : list of Study
        Sorted by patient, study date and UID.
    notes : list of str
        One line per kind of file that was not used.

    Examples
    --------
    >>> import tempfile
    >>> find_studies(tempfile.mkdtemp())
    ([], [])
    """
    dicom = pydicom()
    root = Path(root)
    if not root.exists():
        raise InputError(f"{root}: folder not found")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    keep = len(files) <= KEEP_HEADERS
    studies: dict[str, Study] = {}
    not_dicom: list[Path] = []
    other: Counter[str] = Counter()
    folders: dict[str, set[Path]] = {}  # per study: the folders already within study.folder
    for path in files:
        try:
            ds = dicom.dcmread(path, defer_size=DEFER)
        except (dicom.errors.InvalidDicomError, OSError, EOFError, ValueError):
            not_dicom.append(path)
            continue
        modality = (_raw_text(ds, MODALITY) or "").upper()
        study_uid = _raw_text(ds, STUDY_UID)
        if modality not in MODALITIES or study_uid is None:
            other[modality or "no Modality"] += 1
            continue
        study = studies.get(study_uid)
        if study is None:
            study = studies[study_uid] = Study(study_uid, _text(ds.get("PatientID")),
                                               _text(ds.get("StudyDate")), path.parent)  # fmt: skip
        series_uid = _raw_text(ds, SERIES_UID) or ""
        series = study.series.get(series_uid)
        if series is None:
            series = study.series[series_uid] = Series(
                series_uid, modality, _text(ds.get("SeriesDescription")),
                _text(ds.get("FrameOfReferenceUID")), _values(ds.get("ImageType")),
                _values(ds.get("CorrectedImage")),
            )  # fmt: skip
        series.files.append(path)
        if keep:
            series.headers.append(ds)
        seen = folders.setdefault(study_uid, set())
        if path.parent not in seen:
            seen.add(path.parent)
            if study.folder not in path.parents:
                study.folder = Path(os.path.commonpath([study.folder, path.parent]))
    notes = []
    if not_dicom:
        notes.append(f"{len(not_dicom)} file(s) that are not DICOM, e.g. {not_dicom[0]}")
    notes += [f"{n} DICOM file(s) of modality {m} (not used)" for m, n in sorted(other.items())]
    ordered = sorted(studies.values(), key=lambda s: (s.patient_id, s.study_date, s.uid))
    return ordered, notes
