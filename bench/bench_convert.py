"""Is ``agree convert`` bound by reading the DICOM files?

    python bench/bench_convert.py [--repeat 3] [--quick] [--stages] [--variants]

Writes one synthetic whole-body study (PET 200 slices of 200×200 with per-slice rescale slopes,
CT 400 slices of 512×512, an RTSTRUCT of 20 spherical lesion ROIs contoured on every PET
slice they cross) into a temporary folder, then times, interleaved, ``convert_dicom`` on it
against the baseline measured in the same run: a bare pydicom read of the same files
(``dcmread`` + ``pixel_array`` for every file, nothing else). Prints the medians of wall-clock and
process CPU time (all threads) and their ratios (target ≤ 1.5); ``--stages`` times each step
of a conversion (process CPU time, medians of ``--repeat``) as a multiple of the bare read;
``--variants`` times the alternatives that were measured and not kept (PET and CT NIfTI files
compressed on a second thread while the study goes on; headers parsed by a thread pool),
interleaved with what ``convert_dicom`` does. ``--quick``: a study a quarter the size.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from agreement.dicom import convert_dicom


def _base(modality, sop_class, study, series, frame):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = sop_class
    ds.Modality, ds.PatientID, ds.StudyDate = modality, "BENCH-001", "20240315"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
    return ds


def write_series(folder, modality, n, size, spacing, thickness, origin_z, study, frame, rng):
    folder.mkdir(parents=True)
    series = generate_uid()
    sop = "1.2.840.10008.5.1.4.1.1.128" if modality == "PT" else "1.2.840.10008.5.1.4.1.1.2"
    half = (size - 1) * spacing / 2
    yy, xx = np.mgrid[:size, :size]
    body = ((xx - size / 2) / (size * 0.4)) ** 2 + ((yy - size / 2) / (size * 0.3)) ** 2 < 1
    for k in range(n):
        ds = _base(modality, sop, study, series, frame)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [-half, -half, origin_z + k * thickness]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [spacing, spacing], thickness
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit, ds.PixelRepresentation = 15, 1
        if modality == "PT":
            pixels = np.where(body, rng.integers(800, 1500, (size, size)), 0)
            ds.RescaleSlope, ds.RescaleIntercept = f"{rng.uniform(1, 5):.6f}", "0"
            ds.Units, ds.DecayCorrection, ds.CorrectedImage = "BQML", "START", ["ATTN", "DECY"]
            ds.PatientWeight, ds.SeriesDate, ds.SeriesTime = "80", "20240315", "100000"
            ds.AcquisitionDate, ds.AcquisitionTime = "20240315", f"{100000 + k // 30 * 200:06d}"
            item = Dataset()
            item.RadionuclideTotalDose, item.RadionuclideHalfLife = "250000000", "6586.2"
            item.RadiopharmaceuticalStartTime = "090000"
            ds.RadiopharmaceuticalInformationSequence = Sequence([item])
        else:
            pixels = np.where(body, rng.integers(900, 1200, (size, size)), 24)
            ds.RescaleSlope, ds.RescaleIntercept = "1", "-1024"
        ds.PixelData = pixels.astype("<i2").tobytes()
        ds.save_as(folder / f"{rng.integers(1 << 62):x}.dcm", enforce_file_format=True)


def write_rtstruct(path, n_rois, pet_z, study, frame, rng):
    ds = _base("RTSTRUCT", "1.2.840.10008.5.1.4.1.1.481.3", study, generate_uid(), frame)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StructureSetROISequence, ds.ROIContourSequence = Sequence(), Sequence()
    angles = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    for number in range(1, n_rois + 1):
        centre = rng.uniform([-150, -100, pet_z[20]], [150, 100, pet_z[-20]])
        radius = rng.uniform(5, 30)
        roi = Dataset()
        roi.ROINumber, roi.ROIName = number, f"lesion_{number}"
        ds.StructureSetROISequence.append(roi)
        item = Dataset()
        item.ReferencedROINumber, item.ContourSequence = number, Sequence()
        for z in pet_z[np.abs(pet_z - centre[2]) < radius]:
            r = np.sqrt(radius**2 - (z - centre[2]) ** 2)
            points = np.column_stack([centre[0] + r * np.cos(angles), centre[1] + r * np.sin(angles),
                                      np.full(angles.size, z)])  # fmt: skip
            contour = Dataset()
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.ContourData = [f"{v:.3f}" for v in points.ravel()]
            item.ContourSequence.append(contour)
        ds.ROIContourSequence.append(item)
    ds.save_as(path, enforce_file_format=True)


def write_study(root, quick):
    rng = np.random.default_rng(0)
    study, frame = generate_uid(), generate_uid()
    pet_n, pet_size, ct_n, ct_size = (50, 200, 100, 512) if quick else (200, 200, 400, 512)
    write_series(root / "pet", "PT", pet_n, pet_size, 4.0, 3.0, -600.0, study, frame, rng)
    # CT slices fall between PET slices (as on scanners): every CT slice is interpolated
    write_series(root / "ct", "CT", ct_n, ct_size, 1.5625, 1.5, -600.7, study, frame, rng)
    write_rtstruct(root / "rtstruct.dcm", 20, -600.0 + 3.0 * np.arange(pet_n), study, frame, rng)


def bare_read(root):
    for path in sorted(root.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        if "PixelData" in ds:
            ds.pixel_array  # noqa: B018


def stages(root, tmp):
    """Process CPU time of each step of one conversion, run one after the other."""
    from agreement.dicom.convert import _ct_on_pet, _label, _save
    from agreement.dicom.discover import find_studies
    from agreement.dicom.geometry import stack
    from agreement.dicom.suv import suv_factor

    clock, out = time.process_time, {}

    def timed(name, func, *args, **kwargs):
        start = clock()
        result = func(*args, **kwargs)
        out[name] = clock() - start
        return result

    study = timed("find studies (parse every header)", find_studies, root)[0][0]
    pet_series, ct_series = study.of("PT")[0], study.of("CT")[0]
    pet = timed("stack PET (read pixels, per-slice slope)", stack,
                pet_series.items())  # fmt: skip
    timed("SUV factor", suv_factor, pet.headers, pet.files[0])
    on_pet = timed("CT onto the PET grid (read pixels + resample)", _ct_on_pet,
                   ct_series.items(), pet)  # fmt: skip
    mask, _ = timed("RTSTRUCT mask (20 ROIs)", _label, study, pet, "lesion*")
    timed("write PET .nii.gz", _save, pet.array, pet.affine, Path(tmp) / "pet.nii.gz")
    timed("write CT .nii.gz", _save, on_pet, pet.affine, Path(tmp) / "ct.nii.gz")
    timed("write mask .nii.gz", _save, mask, pet.affine, Path(tmp) / "mask.nii.gz")
    return out


# what grouping and stacking read: the alternative of parsing only these tags
GROUPING_TAGS = [
    "Modality", "StudyInstanceUID", "PatientID", "StudyDate", "SeriesInstanceUID",
    "SeriesDescription", "FrameOfReferenceUID", "ImageType", "CorrectedImage",
    "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "Rows",
    "Columns", "BitsAllocated", "BitsStored", "PixelRepresentation", "SamplesPerPixel",
    "NumberOfFrames", "RescaleSlope", "RescaleIntercept", "AcquisitionDate", "AcquisitionTime",
    "PixelData",
]  # fmt: skip


def parse_headers(root, threads, tags=None):
    files = sorted(root.rglob("*.dcm"))
    if tags is not None:
        return [pydicom.dcmread(p, defer_size=4096, specific_tags=tags) for p in files]
    if threads == 1:
        return [pydicom.dcmread(p, defer_size=4096) for p in files]
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda p: pydicom.dcmread(p, defer_size=4096), files))


def variants(root, out, repeat):
    """(wall, CPU) medians of each alternative, interleaved with what convert_dicom does."""
    import sys

    import agreement.dicom.convert as module
    from agreement.dicom.discover import find_studies
    from agreement.dicom.geometry import stack

    study = find_studies(root)[0][0]
    pet = stack(study.of("PT")[0].items())
    ct = module._ct_on_pet(study.of("CT")[0].items(), pet)
    folder = out.parent / "writes"
    folder.mkdir(exist_ok=True)

    def write(kind):
        if kind == ".nii":
            for name, array in (("pet", pet.array), ("ct", ct)):
                nib.save(nib.Nifti1Image(array, pet.affine), folder / f"{name}.nii")
            return
        saved = sys.modules.get("isal")
        if kind == "zlib":
            sys.modules["isal"] = None  # import isal fails: the zlib fallback
        try:
            for name, array in (("pet", pet.array), ("ct", ct)):
                module._save(array, pet.affine, folder / f"{name}.nii.gz")
        finally:
            if kind == "zlib":
                sys.modules.pop("isal")
                if saved is not None:
                    sys.modules["isal"] = saved

    def convert_threaded():
        # the alternative: the PET and CT files compressed on a second thread while the CT is
        # read and the RTSTRUCT rasterised (ISA-L and zlib release the GIL); the mask, written
        # last, waits for them (the bench study always has one)
        save, pool, pending = module._save, concurrent.futures.ThreadPoolExecutor(1), []

        def threaded_save(array, affine, path):
            if path.parent.name == "imagesTr":
                pending.append(pool.submit(save, array, affine, path))
                return
            for future in pending:
                future.result()
            save(array, affine, path)

        module._save = threaded_save
        try:
            convert_dicom(root, out, overwrite=True, progress=False)
        finally:
            module._save = save
            pool.shutdown()

    runs = {
        "convert_dicom (NIfTI written on the calling thread)": lambda: convert_dicom(
            root, out, overwrite=True, progress=False),
        "convert_dicom, NIfTI written on a second thread": convert_threaded,
        "parse every header, one thread": lambda: parse_headers(root, 1),
        "parse every header, 4 threads": lambda: parse_headers(root, 4),
        "parse only the tags used (specific_tags)": lambda: parse_headers(root, 1, GROUPING_TAGS),
        "write PET + CT .nii.gz with ISA-L (kept)": lambda: write("isal"),
        "write PET + CT .nii.gz with zlib level 1": lambda: write("zlib"),
        "write PET + CT uncompressed .nii": lambda: write(".nii"),
    }  # fmt: skip
    times = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {name: tuple(statistics.median(t[i] for t in v) for i in (0, 1))
            for name, v in times.items()}  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--stages", action="store_true", help="print where convert's time goes")
    parser.add_argument("--variants", action="store_true", help="time the alternatives not kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root, out = Path(tmp) / "dicom", Path(tmp) / "Dataset001"
        start = time.perf_counter()
        write_study(root, args.quick)
        files = list(root.rglob("*.dcm"))
        size = sum(p.stat().st_size for p in files) / 1e6
        print(f"study: {len(files)} files, {size:.0f} MB, written in "
              f"{time.perf_counter() - start:.1f} s")  # fmt: skip
        bare_read(root)  # warm the page cache for both
        times = {"bare": [], "convert": []}  # (wall s, process CPU s) per run
        for _ in range(args.repeat):
            for name in times:
                wall, cpu = time.perf_counter(), time.process_time()
                if name == "bare":
                    bare_read(root)
                else:
                    convert_dicom(root, out, overwrite=True, progress=False)
                times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
            shutil.rmtree(out)
        for column, label in ((0, "wall"), (1, "CPU")):
            b = statistics.median(t[column] for t in times["bare"])
            o = statistics.median(t[column] for t in times["convert"])
            runs = {k: [round(t[column], 2) for t in v] for k, v in times.items()}
            print(f"{label:>4}: bare pydicom read {b:.2f} s {runs['bare']}; convert_dicom "
                  f"{o:.2f} s {runs['convert']}; ratio {o / b:.2f} (target <= 1.5)")  # fmt: skip
        bare = statistics.median(t[1] for t in times["bare"])
        if args.stages:
            steps = [stages(root, tmp) for _ in range(args.repeat)]
            for name in steps[0]:
                seconds = statistics.median(step[name] for step in steps)
                print(f"  {name:<46} {seconds:6.3f} s CPU = {seconds / bare:4.2f} × bare read")
        if args.variants:
            for name, (wall, cpu) in variants(root, out, args.repeat).items():
                print(f"  {name:<52} wall {wall:.2f} s, CPU {cpu:.2f} s = {cpu / bare:4.2f} × bare")


if __name__ == "__main__":
    main()
