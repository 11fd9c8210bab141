"""Tiny synthetic DICOM PET/CT studies written with pydicom (and SEG with highdicom).

Geometry convention of the writer: ``values[row, column, slice]`` in the order the slices are
stacked along the normal; positions follow ImagePositionPatient = origin + k × thickness ×
normal. Nothing here calls agreement code.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

PET_CLASS = "1.2.840.10008.5.1.4.1.1.128"
CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"
RTSTRUCT_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"

# F-18 half-life (s) as scanners write it
F18 = 6586.2


def pet_header(**overrides) -> dict:
    """Series-level PET tags of a BQML/START FDG scan (70 kg, 370 MBq, 60 min uptake)."""
    tags = {
        "Units": "BQML", "DecayCorrection": "START", "CorrectedImage": ["ATTN", "DECY"],
        "PatientWeight": "70", "SeriesDate": "20240315", "SeriesTime": "100000",
        "AcquisitionDate": "20240315", "AcquisitionTime": "100000",
        "radiopharm": {"RadionuclideTotalDose": "370000000", "RadionuclideHalfLife": str(F18),
                       "RadiopharmaceuticalStartTime": "090000"},
    }  # fmt: skip
    tags.update(overrides)
    return tags


def _base(modality, sop_class, study, series_uid, frame, patient="P001"):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = modality
    ds.PatientID = patient
    ds.PatientName = "Synthetic^" + patient
    ds.PatientBirthDate = "19600101"
    ds.PatientSex = "M"
    ds.StudyInstanceUID = study["uid"]
    ds.StudyDate = study["date"]
    ds.StudyTime = "090000"
    ds.StudyID = "1"
    ds.AccessionNumber = "A1"
    ds.ReferringPhysicianName = ""
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = 1 if modality == "PT" else 2
    ds.FrameOfReferenceUID = frame
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "Synthetic"
    return ds


def image_series(
    folder: Path, modality: str, stored: np.ndarray, *, study: dict, frame: str,
    spacing=(4.0, 4.0), thickness=3.0, origin=(-14.0, -14.0, -100.0),
    orientation=(1, 0, 0, 0, 1, 0), slopes=None, intercept=0.0, header: dict | None = None,
    patient="P001", rng=None, reverse_instance=False, per_slice=None,
) -> list[Path]:  # fmt: skip
    """Write ``stored[row, col, k]`` (int16 values) as one series; returns the files written.

    File names are random (UIDs), so file order says nothing about slice order.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = rng or np.random.default_rng(0)
    header = dict(header or {})
    radiopharm = header.pop("radiopharm", None)
    private = header.pop("private", None)
    sop = PET_CLASS if modality == "PT" else CT_CLASS
    series_uid = generate_uid()
    orient = np.asarray(orientation, float)
    normal = np.cross(orient[:3], orient[3:])
    n = stored.shape[2]
    paths = []
    for k in range(n):
        ds = _base(modality, sop, study, series_uid, frame, patient)
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.InstanceNumber = n - k if reverse_instance else k + 1
        ds.ImagePositionPatient = [f"{v:.6f}" for v in np.asarray(origin) + k * thickness * normal]
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in orient]
        ds.PixelSpacing = [f"{spacing[0]}", f"{spacing[1]}"]
        ds.SliceThickness = thickness
        ds.Rows, ds.Columns = stored.shape[:2]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleSlope = f"{(slopes[k] if slopes is not None else 1.0):.10g}"
        ds.RescaleIntercept = f"{intercept:g}"
        ds.PixelData = np.ascontiguousarray(stored[:, :, k], "<i2").tobytes()
        for key, value in header.items():
            setattr(ds, key, value)
        for key, value in (per_slice or {}).items():
            setattr(ds, key, value[k])
        if radiopharm is not None:
            item = Dataset()
            for key, value in radiopharm.items():
                setattr(item, key, value)
            ds.RadiopharmaceuticalInformationSequence = Sequence([item])
        if private:
            block = ds.private_block(0x7053, "Philips PET Private Group", create=True)
            for element, value in private.items():
                block.add_new(element, "DS", value)
        path = folder / f"{generate_uid()}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    order = rng.permutation(len(paths))
    return [paths[i] for i in order]


def new_study(date="20240315") -> dict:
    return {"uid": generate_uid(), "date": date}


def rtstruct(path: Path, *, study: dict, frame: str, rois: dict[str, list[np.ndarray]],
             patient="P001", referenced_series: str | None = None,
             roi_frame: str | None = None) -> Path:  # fmt: skip
    """An RTSTRUCT with ``rois``: name -> list of contours (N×3 LPS mm, closed planar).

    ``referenced_series``: also write a ReferencedFrameOfReferenceSequence naming ``frame``
    and that series; ``roi_frame``: the ROIs' ReferencedFrameOfReferenceUID (default ``frame``).
    """
    ds = _base("RTSTRUCT", RTSTRUCT_CLASS, study, generate_uid(), frame, patient)
    ds.StructureSetLabel = "synthetic"
    if referenced_series is not None:
        series_item, study_item, frame_item = Dataset(), Dataset(), Dataset()
        series_item.SeriesInstanceUID = referenced_series
        study_item.ReferencedSOPInstanceUID = study["uid"]
        study_item.RTReferencedSeriesSequence = Sequence([series_item])
        frame_item.FrameOfReferenceUID = frame
        frame_item.RTReferencedStudySequence = Sequence([study_item])
        ds.ReferencedFrameOfReferenceSequence = Sequence([frame_item])
    ds.StructureSetROISequence = Sequence()
    ds.ROIContourSequence = Sequence()
    for number, (name, contours) in enumerate(rois.items(), start=1):
        roi = Dataset()
        roi.ROINumber, roi.ROIName = number, name
        roi.ReferencedFrameOfReferenceUID = frame if roi_frame is None else roi_frame
        ds.StructureSetROISequence.append(roi)
        item = Dataset()
        item.ReferencedROINumber = number
        item.ContourSequence = Sequence()
        for points in contours:
            c = Dataset()
            c.ContourGeometricType = "CLOSED_PLANAR"
            c.NumberOfContourPoints = len(points)
            c.ContourData = [f"{v:.4f}" for v in np.asarray(points, float).ravel()]
            item.ContourSequence.append(c)
        ds.ROIContourSequence.append(item)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def datetime_of(date: str, time: str) -> dt.datetime:
    return dt.datetime.strptime(date + time, "%Y%m%d%H%M%S")


def read(paths):
    return [pydicom.dcmread(p) for p in paths]
