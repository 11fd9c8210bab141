"""Label values (issue 10, item 7; item 18's float mask): no silently emptied reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agreement.errors import InputError
from agreement.measures.cohort import measure_cohort


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
        measure_cohort(paths["pred"], paths["ref"], paths["pet"], reference_label=3,
                       pred_label=1, progress=False, workers=1)  # fmt: skip
