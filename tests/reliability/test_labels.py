"""Mask inputs (issue 10, items 7, 14 and 18): label values, headers, a mask given as a table.

No reference silently emptied by a label value; a qform/sform disagreement and a
probability map named in one readable line; a mask file passed where a folder or a table
belongs called a mask, with what to pass instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agreement.errors import InputError
from agreement.measures.cohort import measure_cohort
from agreement.measures.options import MeasureOptions


def _relabel(folder, value):
    """Rewrite every mask of ``folder`` with its lesion voxels set to ``value``."""
    import nibabel as nib

    for path in sorted(folder.rglob("*.nii.gz")):
        img = nib.load(path)
        data = np.asarray(img.dataobj).astype(np.uint8) * np.uint8(value)
        nib.save(nib.Nifti1Image(data, img.affine), path)


@pytest.mark.bad_input(
    tool="agree measure",
    given="`--label 255` on 0/1 references (the fix the 0/255 message suggests)",
    message="Error: reference label 255: no reference mask contains the value 255 "
    "(REF/c1.nii.gz, REF/c2.nii.gz; REF/c1.nii.gz holds 0, 1); pass --pred-label 255 if only "
    "the predictions use it",
)
def test_label_absent_from_every_reference_is_refused(tmp_path, rel):
    paths = rel.cohort(tmp_path / "in", methods=("a",))
    _relabel(paths["pred"], 255)
    before = rel.snapshot(tmp_path / "in")
    out = tmp_path / "tables"
    res = rel.agree("measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                    "-o", out, "--label", 255, "--no-progress", "-j", 1)  # fmt: skip
    assert res.exit_code == 2
    ref = paths["ref"]
    assert rel.one_line(res.output) == (
        f"Error: reference label 255: no reference mask contains the value 255 "
        f"({ref / 'c1.nii.gz'}, {ref / 'c2.nii.gz'}; {ref / 'c1.nii.gz'} holds 0, 1); "
        "pass --pred-label 255 if only the predictions use it"
    )
    assert rel.no_output(out)
    assert rel.snapshot(tmp_path / "in") == before


@pytest.mark.bad_input(
    tool="agree measure",
    given="0/255 predictions against 0/1 references with `--pred-label 255`",
    message="measured: the predictions' 255 and the references' 1 are the lesions",
    exit_code=0,
)
def test_pred_label_alone(tmp_path, rel):
    paths = rel.cohort(tmp_path / "in", methods=("a",))
    expected = measure_cohort(paths["pred"], paths["ref"], paths["pet"], progress=False,
                              workers=1).measurements  # fmt: skip
    _relabel(paths["pred"], 255)
    out = tmp_path / "tables"
    res = rel.agree("measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                    "-o", out, "--pred-label", 255, "--no-progress", "-j", 1)  # fmt: skip
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out / "measurements.csv", dtype={"case_id": str})
    assert got["predicted"].gt(0).all()
    np.testing.assert_allclose(got["predicted"], expected["predicted"], rtol=1e-6)


@pytest.mark.bad_input(
    tool="agree measure",
    given="0/255 references and 0/1 predictions with `--reference-label 255`",
    message="measured (same numbers as with 0/1 references)",
    exit_code=0,
)
def test_reference_label_alone(tmp_path, rel):
    paths = rel.cohort(tmp_path / "in", methods=("a",))
    expected = measure_cohort(paths["pred"], paths["ref"], paths["pet"], progress=False,
                              workers=1).measurements  # fmt: skip
    _relabel(paths["ref"], 255)
    out = tmp_path / "tables"
    res = rel.agree("measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                    "-o", out, "--reference-label", 255, "--no-progress", "-j", 1)  # fmt: skip
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out / "measurements.csv", dtype={"case_id": str})
    np.testing.assert_allclose(got[["reference", "predicted"]],
                               expected[["reference", "predicted"]], rtol=1e-6)  # fmt: skip


@pytest.mark.bad_input(
    tool="agreement.measure_cohort",
    given="`reference_label=3` that no reference mask holds",
    message="InputError: reference label 3: no reference mask contains the value 3 (...)",
    exit_code=None,
)
def test_api_refuses_absent_reference_label(tmp_path, rel):
    paths = rel.cohort(tmp_path, methods=("a",))
    with pytest.raises(InputError, match=r"^reference label 3: no reference mask contains"):
        measure_cohort(paths["pred"], paths["ref"], paths["pet"], progress=False, workers=1,
                       options=MeasureOptions(reference_label=3, pred_label=1))  # fmt: skip


@pytest.mark.bad_input(
    tool="agree measure",
    given="a prediction with fractional values (a 0/0.5 probability map)",
    message="failed.csv and the summary line: PRED/a/c2.nii.gz: not a label map: fractional "
    "values {0, 0.5} (probabilities?); binarise it first, e.g. save (mask >= 0.5) as integers 0/1",
    exit_code=0,
)
def test_float_mask_is_named_not_a_label_map(tmp_path, rel):
    import nibabel as nib

    paths = rel.cohort(tmp_path / "in", methods=("a",))
    path = paths["pred"] / "a" / "c2.nii.gz"
    img = nib.load(path)
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj).astype(np.float32) * 0.5, img.affine), path)
    before = rel.snapshot(tmp_path / "in")
    out = tmp_path / "tables"
    res = rel.agree("measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                    "-o", out, "--no-progress", "-j", 1)  # fmt: skip
    assert res.exit_code == 0, res.output
    reason = (f"{path}: not a label map: fractional values {{0, 0.5}} (probabilities?); "
              "binarise it first, e.g. save (mask >= 0.5) as integers 0/1")  # fmt: skip
    assert f"1 failed: c2/a: {reason}" in res.output
    assert "--label" not in res.output  # --label cannot select 0.5
    assert pd.read_csv(out / "failed.csv")["reason"].tolist() == [reason]
    assert rel.snapshot(tmp_path / "in") == before


@pytest.mark.bad_input(
    tool="agree report",
    given="a mask file as SOURCE with `--reference` (`agree report mask.nii.gz --reference REF`)",
    message="Error: FILE: a mask file, not a folder of masks; pass the folder that holds the "
    "predicted masks (e.g. PRED) with --reference and --pet",
)
def test_report_on_a_mask_file_says_mask(tmp_path, rel):
    paths = rel.cohort(tmp_path / "in", methods=("",))
    mask = paths["pred"] / "c1.nii.gz"
    before = rel.snapshot(tmp_path / "in")
    out = tmp_path / "report"
    res = rel.agree("report", mask, "--reference", paths["ref"], "--pet", paths["pet"], "-o", out)
    assert res.exit_code == 2
    assert rel.one_line(res.output) == (
        f"Error: {mask}: a mask file, not a folder of masks; pass the folder that holds the "
        f"predicted masks (e.g. {paths['pred']}) with --reference and --pet"
    )
    assert rel.no_output(out)
    assert rel.snapshot(tmp_path / "in") == before


@pytest.mark.bad_input(
    tool="agree stats",
    given="a mask file where a measurements table belongs",
    message="Error: FILE: an image (.nii.gz), not a table; pass a measurements table (.csv, "
    ".tsv, .parquet), or give the folder of masks to agree measure/report with --reference and "
    "--pet",
)
def test_stats_on_a_mask_file_says_image(tmp_path, rel):
    paths = rel.cohort(tmp_path / "in", methods=("",))
    mask = paths["ref"] / "c1.nii.gz"
    before = rel.snapshot(tmp_path / "in")
    out = tmp_path / "agreement.csv"
    for command in ("stats", "report"):
        res = rel.agree(command, mask, "-o", out)
        assert res.exit_code == 2
        assert rel.one_line(res.output) == (
            f"Error: {mask}: an image (.nii.gz), not a table; pass a measurements table (.csv, "
            ".tsv, .parquet), or give the folder of masks to agree measure/report with "
            "--reference and --pet"
        )
        assert rel.no_output(out)
    assert rel.snapshot(tmp_path / "in") == before


@pytest.mark.bad_input(
    tool="agree measure",
    given="a reference whose qform and sform disagree",
    message="warning: REF/c1.nii.gz: qform and sform disagree; using the sform (as nibabel "
    "does) (one line, no Python source line; also with -j 2)",
    exit_code=0,
)
@pytest.mark.parametrize("workers", [1, 2])
def test_qform_sform_warning_is_one_line(tmp_path, rel, workers):
    import nibabel as nib

    paths = rel.cohort(tmp_path / "in", methods=("a",))
    path = paths["ref"] / "c1.nii.gz"
    img = nib.load(path)
    qform = img.affine.copy()
    qform[0, 3] += 5.0
    fixed = nib.Nifti1Image(np.asarray(img.dataobj), img.affine)
    fixed.set_qform(qform, code=1)
    fixed.set_sform(img.affine, code=1)
    nib.save(fixed, path)
    before = rel.snapshot(tmp_path / "in")
    out = tmp_path / "tables"
    res = rel.agree("measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                    "-o", out, "--no-progress", "-j", workers)  # fmt: skip
    assert res.exit_code == 0, res.output
    warned = [ln for ln in res.output.splitlines() if "qform and sform" in ln]
    assert warned == [
        f"warning: {path}: qform and sform disagree; using the sform (as nibabel does)"
    ]
    assert "UserWarning" not in res.output and "load_volume(" not in res.output
    assert rel.snapshot(tmp_path / "in") == before
