"""Bad inputs of the layouts users bring (DICOM SEG, Slicer, MONAI datalist, nnU-Net channels,
Dask, shards): one line naming the file and the problem, exit 2, nothing written, inputs intact."""

from __future__ import annotations

import json

import numpy as np
import pytest


def _measure(rel, paths, out, *extra):
    return rel.agree("measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                     "-o", out, "--no-progress", "-j", "1", *extra)  # fmt: skip


def _check(rel, res, root, before, out, expected):
    assert res.exit_code == 2, res.output
    assert rel.one_line(res.output).startswith(f"Error: {expected}"), res.output
    assert rel.no_output(out)
    assert rel.snapshot(root) == before


@pytest.mark.bad_input(
    tool="agree measure",
    given="a DICOM CT slice `c1.dcm` where a DICOM SEG prediction is expected",
    message="Error: PRED/c1.dcm: a DICOM CT file, not a DICOM SEG (convert DICOM images to NIfTI "
    "with agree convert)",
)
def test_dicom_that_is_not_a_seg(tmp_path, rel):
    pydicom = pytest.importorskip("pydicom")
    paths = rel.cohort(tmp_path, cases=("c1",), methods=("",))
    (paths["pred"] / "c1.nii.gz").unlink()
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.Modality = "CT"
    ds.save_as(paths["pred"] / "c1.dcm", enforce_file_format=True)
    before, out = rel.snapshot(tmp_path), tmp_path / "out"
    res = _measure(rel, paths, out)
    _check(rel, res, tmp_path, before, out,
           f"{paths['pred'] / 'c1.dcm'}: a DICOM CT file, not a DICOM SEG")  # fmt: skip


@pytest.mark.bad_input(
    tool="agree measure",
    given="a layered 3D Slicer segmentation `c1.seg.nrrd` (overlapping segments)",
    message="Error: PRED/c1.seg.nrrd: a layered Slicer segmentation (2 layers of overlapping "
    "segments); export the lesion segment as a label map (Segmentations > Export to files)",
)
def test_layered_slicer_segmentation(tmp_path, rel):
    sitk = pytest.importorskip("SimpleITK")
    paths = rel.cohort(tmp_path, cases=("c1",), methods=("",))
    (paths["pred"] / "c1.nii.gz").unlink()
    layer = sitk.GetImageFromArray(np.zeros((8, 8, 8), np.uint8))
    sitk.WriteImage(sitk.Compose([layer, layer]), str(paths["pred"] / "c1.seg.nrrd"))
    before, out = rel.snapshot(tmp_path), tmp_path / "out"
    res = _measure(rel, paths, out)
    _check(rel, res, tmp_path, before, out,
           f"{paths['pred'] / 'c1.seg.nrrd'}: a layered Slicer segmentation (2 layers")  # fmt: skip


@pytest.mark.bad_input(
    tool="agree measure",
    given="a MONAI datalist entry without `label`",
    message="Error: FILE.json: training[0]: no 'label'",
)
def test_datalist_entry_without_label(tmp_path, rel):
    paths = rel.cohort(tmp_path, cases=("c1",), methods=("",))
    datalist = tmp_path / "datalist.json"
    datalist.write_text(json.dumps({"training": [{"image": "pet/c1.nii.gz",
                                                  "pred": "pred/c1.nii.gz"}]}))  # fmt: skip
    before, out = rel.snapshot(tmp_path), tmp_path / "out"
    res = rel.agree("measure", "--datalist", datalist, "-o", out, "--no-progress")
    _check(rel, res, tmp_path, before, out, f"{datalist}: training[0]: no 'label'")
    assert paths["pred"].is_dir()


@pytest.mark.bad_input(
    tool="agree measure",
    given="`--pet-channel 2` on nnU-Net images that have channels 0000 and 0001 only",
    message="Error: PET: no _0002 files for --pet-channel (found _0000, _0001)",
)
def test_pet_channel_not_there(tmp_path, rel):
    paths = rel.cohort(tmp_path, cases=("c1",), methods=("",))
    pet = paths["pet"] / "c1.nii.gz"
    pet.rename(paths["pet"] / "c1_0001.nii.gz")
    rel.write_nifti(paths["pet"] / "c1_0000.nii.gz", np.zeros((8, 8, 8), np.float32))
    before, out = rel.snapshot(tmp_path), tmp_path / "out"
    res = _measure(rel, paths, out, "--pet-channel", "2")
    _check(rel, res, tmp_path, before, out,
           f"{paths['pet']}: no _0002 files for --pet-channel (found _0000, _0001)")  # fmt: skip


@pytest.mark.bad_input(
    tool="agree measure",
    given="`--scheduler` with an address where no Dask scheduler listens",
    message="Error: ADDRESS: no Dask scheduler reachable (REASON)",
)
def test_no_scheduler_at_the_address(tmp_path, rel):
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    paths = rel.cohort(tmp_path, cases=("c1",), methods=("",))
    before, out = rel.snapshot(tmp_path), tmp_path / "out"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        res = rel.agree("measure", paths["pred"], "--reference", paths["ref"], "--pet",
                        paths["pet"], "-o", out, "--no-progress",
                        "--scheduler", "tcp://127.0.0.1:9")  # fmt: skip
    _check(rel, res, tmp_path, before, out, "tcp://127.0.0.1:9: no Dask scheduler reachable")


@pytest.mark.bad_input(
    tool="agree merge",
    given="a shard folder holding both CSV and Parquet tables, without `--format`",
    message="Error: SHARD: holds both CSV and Parquet tables; pass --format to choose one",
)
def test_merge_shard_in_two_formats(tmp_path, rel):
    pytest.importorskip("pyarrow")
    paths = rel.cohort(tmp_path, cases=("c1",), methods=("",))
    shard = tmp_path / "shard"
    assert _measure(rel, paths, shard, "--format", "parquet").exit_code == 0
    (shard / "measurements.csv").write_text("case_id,method,metric,reference,predicted\n")
    before, out = rel.snapshot(tmp_path), tmp_path / "all"
    res = rel.agree("merge", shard, "-o", out)
    _check(rel, res, tmp_path, before, out,
           f"{shard}: holds both CSV and Parquet tables; pass --format to choose one")  # fmt: skip


@pytest.mark.bad_input(
    tool="agree measure",
    given="an RTSTRUCT reference whose ROI names do not match `--roi`",
    message="Error: REF/c1.dcm: no ROI name matches 'lesion*' (ROIs: 'Liver'); pass --roi PATTERN",
)
def test_rtstruct_without_a_matching_roi(tmp_path, rel, synthetic_dicom):
    s = synthetic_dicom
    paths = rel.cohort(tmp_path, cases=("c1",), methods=("",))
    study, frame = s.new_study(), s.generate_uid()
    (paths["ref"] / "c1.nii.gz").unlink()
    contour = [[0, 0, 0], [4, 0, 0], [4, 4, 0]]
    s.rtstruct(paths["ref"] / "c1.dcm", study=study, frame=frame, rois={"Liver": [contour]})
    before, out = rel.snapshot(tmp_path), tmp_path / "out"
    res = _measure(rel, paths, out)
    _check(rel, res, tmp_path, before, out,
           f"{paths['ref'] / 'c1.dcm'}: no ROI name matches 'lesion*' (ROIs: 'Liver')")  # fmt: skip
