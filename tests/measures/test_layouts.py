"""Layouts users already have: read without renaming, and the detected layout is said."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from agreement.cli import agree
from agreement.errors import InputError
from agreement.measures.layout import find_images, find_predictions, plan_cohort


def _touch(path, content=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


def _run(*args):
    return CliRunner().invoke(agree, [str(a) for a in args])


def test_pet_channel_option_when_dataset_json_says_ct_twice(tmp_path):
    # nnU-Net's own autoPET dataset.json names both channels "CT".
    root = tmp_path / "Dataset221_AutoPETII_2023"
    for case in ("psma_001", "psma_002"):
        _touch(root / "imagesTr" / f"{case}_0000.nii.gz")
        _touch(root / "imagesTr" / f"{case}_0001.nii.gz")
    _touch(root / "dataset.json", json.dumps({"channel_names": {"0": "CT", "1": "CT"}}))
    with pytest.raises(InputError, match="pass --pet-channel N"):
        find_images(root / "imagesTr", "pet")
    for given in (1, "1", "0001"):
        pets = find_images(root / "imagesTr", "pet", pet_channel=given)
        assert pets.files["psma_001"].name == "psma_001_0001.nii.gz"
        assert pets.layout == "nnU-Net images, channel 0001 (--pet-channel)"
    with pytest.raises(
        InputError, match=r"no _0002 files for --pet-channel \(found _0000, _0001\)"
    ):
        find_images(root / "imagesTr", "pet", pet_channel=2)
    with pytest.raises(ValueError, match="a channel is a number"):
        find_images(root / "imagesTr", "pet", pet_channel="PET")


def test_pet_channel_on_the_command_line(tmp_path, nifti):
    paths = nifti.cohort(tmp_path, cases=("c1",))
    images = tmp_path / "imagesTr"
    images.mkdir()
    (paths["pet"] / "c1.nii.gz").rename(images / "c1_0001.nii.gz")
    nifti.write(images / "c1_0000.nii.gz", np.zeros((10, 10, 10), np.float32))
    args = ("measure", paths["pred"], "--reference", paths["ref"], "--pet", images,
            "-o", tmp_path / "out", "--no-progress")  # fmt: skip
    res = _run(*args, "--pet-channel", "1")
    assert res.exit_code == 0, res.output
    assert "PET: nnU-Net images, channel 0001 (--pet-channel)" in res.output
    bad = _run(*args, "--pet-channel", "x1", "--overwrite")
    assert bad.exit_code == 2 and "a channel is a number such as 1 or 0001" in bad.output


@pytest.mark.parametrize("where", ["mirrored", "inside"])
def test_autopet_predictions_as_study_tree(tmp_path, nifti, where):
    m = np.zeros((10, 10, 10), np.uint8)
    m[2:5, 2:5, 2:5] = 1
    pet = np.ones(m.shape, np.float32) + 3 * m
    studies = [("PETCT_1", "2001-01-01-NA-1"), ("PETCT_2", "2002-02-02-NA-2"),
               ("PETCT_2", "2003-03-03-NA-3")]  # fmt: skip
    data = tmp_path / "data"
    pred = data if where == "inside" else tmp_path / "PRED"
    for patient, study in studies:
        nifti.write(data / patient / study / "SEG.nii.gz", m)
        nifti.write(data / patient / study / "SUV.nii.gz", pet)
        nifti.write(data / patient / study / "CTres.nii.gz", pet)
        nifti.write(pred / patient / study / "PRED.nii.gz", m)
    p = find_predictions(pred)
    assert p.layout == "autoPET study folders (PRED.nii.gz)"
    assert sorted(p.methods[pred.name]) == [f"{a}_{b}" for a, b in studies]
    plan = plan_cohort(pred, data, data)
    assert plan.skipped == []
    assert [(j.reference.parent, j.pet.parent) for j in plan.jobs] == [
        (data / a / b, data / a / b) for a, b in studies
    ]
    assert all(j.predictions[pred.name] == pred / a / b / "PRED.nii.gz"
               for j, (a, b) in zip(plan.jobs, studies, strict=True))  # fmt: skip
    res = _run("measure", pred, "--reference", data, "--pet", data, "-o", tmp_path / "out",
               "--no-progress")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "predictions: autoPET study folders (PRED.nii.gz)" in res.output
    assert "skipped" not in res.output
    cases = pd.read_csv(tmp_path / "out" / "cases.csv")
    assert cases["dsc"].tolist() == [1.0, 1.0, 1.0]


def _datalist(tmp_path, paths, nifti):
    """A MONAI datalist beside the cohort: relative paths, [CT, PET] images, one entry without pred."""
    entries = []
    for case in ("c1", "c2", "c3"):
        ct = tmp_path / "ct" / f"{case}.nii.gz"
        nifti.write(ct, np.zeros((10, 10, 10), np.float32))
        entry = {"image": [f"ct/{case}.nii.gz", f"pet/{case}.nii.gz"],
                 "label": f"ref/{case}.nii.gz"}  # fmt: skip
        if case != "c3":
            entry["pred"] = f"pred/unet/{case}.nii.gz"
        entries.append(entry)
    path = tmp_path / "datalist.json"
    path.write_text(json.dumps({"name": "x", "training": entries[:2], "test": entries[2:]}))
    return path


def test_monai_datalist(tmp_path, nifti):
    paths = nifti.cohort(tmp_path, cases=("c1", "c2", "c3"))
    datalist = _datalist(tmp_path, paths, nifti)
    assert _run("measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                "-o", tmp_path / "folders", "--no-progress", "-j", "1").exit_code == 0  # fmt: skip
    (paths["pred"] / "unet" / "c3.nii.gz").unlink()  # the entry without pred has no file either
    res = _run("measure", "--datalist", datalist, "--pet-channel", "1", "-o", tmp_path / "dl",
               "--no-progress", "-j", "1")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (
        "layout: MONAI datalist datalist.json (training, test): 2 case(s) with pred" in res.output
    )
    assert "missing: 1 (case, method) pair(s) without a prediction, not measured: c3/unet" in (
        res.output
    )
    missing = pd.read_csv(tmp_path / "dl" / "missing.csv")
    assert missing[["case_id", "method"]].values.tolist() == [["c3", "unet"]]
    for name in ("measurements", "cases", "lesions"):
        a = pd.read_csv(tmp_path / "folders" / f"{name}.csv")
        pd.testing.assert_frame_equal(a[a.case_id != "c3"].reset_index(drop=True),
                                      pd.read_csv(tmp_path / "dl" / f"{name}.csv"))  # fmt: skip
    res = _run("measure", "--datalist", datalist, "-o", tmp_path / "no_channel", "--no-progress")
    assert res.exit_code == 2 and "'image' lists 2 channels; pass --pet-channel N" in res.output
    res = _run("measure", paths["pred"], "--datalist", datalist, "-o", tmp_path / "both")
    assert res.exit_code == 2 and "--datalist replaces PRED, --reference and --pet" in res.output
    res = _run("measure", "-o", tmp_path / "none")
    assert res.exit_code == 2 and "Missing argument 'PRED' (or pass --datalist" in res.output
    res = _run("report", "--datalist", datalist, "--pet-channel", "1", "-o", tmp_path / "report",
               "--no-progress", "-j", "1", "--compare-n-resamples", "100")  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["n_cases"] == 2
    assert [(r["case_id"], r["method"]) for r in summary["missing"]] == [("c3", "unet")]


def test_datalist_errors_name_the_entry(tmp_path):
    from agreement.measures.datalist import plan_datalist

    path = tmp_path / "d.json"
    path.write_text(json.dumps({"training": [{"image": "a.nii.gz", "pred": "p/a.nii.gz"}]}))
    with pytest.raises(InputError, match=r"d.json: training\[0\]: no 'label'"):
        plan_datalist(path)
    path.write_text("{not json")
    with pytest.raises(InputError, match="d.json: not valid JSON"):
        plan_datalist(path)
    entry = {"image": "a.nii.gz", "label": "a.nii.gz", "pred": {"unet": "u/a.nii.gz"}}
    path.write_text(json.dumps({"training": [entry, entry]}))
    with pytest.raises(InputError, match=r"training\[1\]: duplicate case id 'a'"):
        plan_datalist(path)
