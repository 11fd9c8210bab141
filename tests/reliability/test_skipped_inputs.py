"""Entries named like images that are not image files: named with their reason, never dropped."""

from __future__ import annotations

import json
import os

import pytest


def _measure(rel, paths, out):
    return rel.agree("measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                     "-o", out, "--no-progress", "-j", "1")  # fmt: skip


def _skipped_lines(output: str) -> list[str]:
    return [ln for ln in output.splitlines() if ln.startswith("skipped: ")]


@pytest.mark.bad_input(
    tool="agree measure",
    given="a folder named `c2.nii.gz` among the predictions",
    message="skipped: PRED/c2.nii.gz: a folder, not an image file",
    exit_code=0,
)
def test_folder_named_like_an_image(tmp_path, rel):
    paths = rel.cohort(tmp_path, methods=("",))
    (paths["pred"] / "c2.nii.gz").unlink()
    (paths["pred"] / "c2.nii.gz").mkdir()
    before = rel.snapshot(tmp_path)
    res = _measure(rel, paths, tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert _skipped_lines(res.output) == [
        f"skipped: {paths['pred'] / 'c2.nii.gz'}: a folder, not an image file",
    ]
    assert "without a prediction, not measured: c2/pred;" in res.output  # a missing pair
    assert rel.snapshot(tmp_path) == before | rel.snapshot(tmp_path / "out")


@pytest.mark.bad_input(
    tool="agree measure",
    given="a dangling symbolic link `c2.nii.gz` among the reference masks",
    message="skipped: REF/c2.nii.gz: broken symbolic link (to TARGET, which does not exist)",
    exit_code=0,
)
def test_dangling_symlink(tmp_path, rel):
    paths = rel.cohort(tmp_path, cases=("c1",), methods=("",))
    (paths["ref"] / "c2.nii.gz").symlink_to(tmp_path / "gone.nii.gz")
    before = rel.snapshot(tmp_path)
    res = _measure(rel, paths, tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert _skipped_lines(res.output) == [
        f"skipped: {paths['ref'] / 'c2.nii.gz'}: broken symbolic link "
        f"(to {tmp_path / 'gone.nii.gz'}, which does not exist)"
    ]
    assert rel.snapshot(tmp_path) == before | rel.snapshot(tmp_path / "out")


@pytest.mark.bad_input(
    tool="agree measure",
    given="a symbolic link loop `c2.nii.gz` among the PET volumes",
    message="skipped: PET/c2.nii.gz: symbolic link loop",
    exit_code=0,
)
def test_symlink_loop(tmp_path, rel):
    paths = rel.cohort(tmp_path, cases=("c1",), methods=("",))
    os.symlink("c2.nii.gz", paths["pet"] / "c2.nii.gz")  # points at itself
    before = rel.snapshot(tmp_path)
    res = _measure(rel, paths, tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert _skipped_lines(res.output) == [
        f"skipped: {paths['pet'] / 'c2.nii.gz'}: symbolic link loop"
    ]
    assert rel.snapshot(tmp_path) == before | rel.snapshot(tmp_path / "out")


@pytest.mark.bad_input(
    tool="agree report",
    given="a folder named `c2.nii.gz` among the predictions",
    message="skipped: PRED/c2.nii.gz: a folder, not an image file (also in summary.json "
    "`skipped` and the report)",
    exit_code=0,
)
def test_report_names_skipped_inputs(tmp_path, rel):
    paths = rel.cohort(tmp_path, cases=("c1", "c2", "c3", "c4"), methods=("",))
    (paths["pred"] / "c4.nii.gz").unlink()
    (paths["pred"] / "c4.nii.gz").mkdir()
    out = tmp_path / "report"
    res = rel.agree("report", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                    "-o", out, "--no-progress", "-j", "1", "--compare-n-resamples", "100")  # fmt: skip
    assert res.exit_code == 0, res.output
    expected = [f"{paths['pred'] / 'c4.nii.gz'}: a folder, not an image file"]
    assert _skipped_lines(res.output) == [f"skipped: {s}" for s in expected]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped"] == [{"case_id": "", "method": "", "reason": s} for s in expected]
    assert [(r["case_id"], r["method"]) for r in summary["missing"]] == [("c4", "pred")]
    assert "a folder, not an image file" in (out / "index.html").read_text()
