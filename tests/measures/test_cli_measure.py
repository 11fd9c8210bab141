"""`agree measure` and `agree merge` end to end on tiny NIfTI cohorts (click CliRunner)."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from agreement.atomic import MARKER
from agreement.cli import agree
from agreement.measures.quantify import quantify


def run(*args):
    return CliRunner().invoke(
        agree, [*map(str, args), "--no-progress"] if args[0] == "measure" else list(map(str, args))
    )


def measure_args(paths, out, *extra):
    return ("measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
            "-o", out, "-j", "1", *extra)  # fmt: skip


def error_line(result):
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_measure_writes_tables(tmp_path, nifti, brute):
    paths = nifti.cohort(tmp_path, methods=("unet/dice", "unet/l1dfl"))
    out = tmp_path / "out"
    res = run(*measure_args(paths, out))
    assert res.exit_code == 0, res.output
    assert "layout: predictions: method subfolders, two levels" in res.output
    assert "measured 2 case(s) × 2 method(s)" in res.output
    assert sorted(p.name for p in out.iterdir()) == [
        MARKER, "cases.csv", "lesions.csv", "measurements.csv", "missing.csv"
    ]
    m = pd.read_csv(out / "measurements.csv")
    assert list(m.columns[:6]) == ["case_id", "method", "metric", "reference", "predicted", "unit"]
    assert set(m.network) == {"unet"} and set(m.loss) == {"dice", "l1dfl"}
    assert len(m) == 2 * 2 * 6
    # independent check of one case against the brute-force oracle on the arrays
    pred = np.asarray(nib.load(paths["pred"] / "unet/l1dfl/c1.nii.gz").dataobj)
    pet = nib.load(paths["pet"] / "c1.nii.gz").get_fdata(dtype=np.float32)
    expected = brute.quantify(pred, pet, (2.0, 2.0, 3.0))
    got = m[(m.case_id == "c1") & (m.method == "unet/l1dfl")].set_index("metric").predicted
    for metric, value in expected.items():
        assert got[metric] == pytest.approx(value, rel=1e-6)
    cases = pd.read_csv(out / "cases.csv")
    row = cases[(cases.case_id == "c1") & (cases.method == "unet/l1dfl")].iloc[0]
    assert (row.tp, row.fp, row.fn, row.scenario) == (1, 1, 1, "multiple")
    lesions = pd.read_csv(out / "lesions.csv")
    assert set(lesions.side) == {"reference", "predicted"}
    assert set(lesions.status) == {"tp", "fn", "fp"}


def test_failed_case_listed_and_run_goes_on(tmp_path, nifti):
    paths = nifti.cohort(tmp_path, cases=("c1", "c2", "c3"))
    nifti.write(paths["pred"] / "unet" / "c2.nii.gz", np.zeros((9, 10, 10), np.uint8))
    res = run(*measure_args(paths, tmp_path / "out"))
    assert res.exit_code == 0, res.output
    failed = pd.read_csv(tmp_path / "out" / "failed.csv")
    assert failed.case_id.tolist() == ["c2"] and "grid differs" in failed.reason[0]
    assert "1 failed: c2/unet:" in res.output
    assert pd.read_csv(tmp_path / "out" / "cases.csv").case_id.tolist() == ["c1", "c3"]
    strict = run(*measure_args(paths, tmp_path / "strict", "--strict"))
    assert strict.exit_code == 2 and "c2.nii.gz: grid differs" in error_line(strict)
    assert not (tmp_path / "strict").exists()


def _bad_input(tmp_path, nifti, kind):
    """Build a one-case cohort broken in one way; return (paths, expected message, extra)."""
    paths = nifti.cohort(tmp_path, cases=("c1",))
    pred = paths["pred"] / "unet" / "c1.nii.gz"
    pet = paths["pet"] / "c1.nii.gz"
    if kind == "grid":
        nifti.write(pred, np.zeros((10, 10, 10), np.uint8), spacing=(2.0, 2.0, 2.0))
        return paths, "c1.nii.gz: grid differs"
    if kind == "labels":
        arr = np.full((10, 10, 10), 2, np.uint8)
        arr[0] = 0
        nifti.write(pred, arr)
        return paths, "c1.nii.gz: label values {0, 2}; pass --label N"
    if kind == "nan":
        arr = np.ones((10, 10, 10), np.float32)
        arr[1, 2, 3] = np.nan
        nifti.write(pet, arr)
        return paths, "pet/c1.nii.gz: PET contains 1 NaN"
    if kind == "2d":
        nifti.write(pred, np.zeros((10, 10), np.uint8))
        return paths, "c1.nii.gz: expected a 3-D volume"
    if kind == "4d":
        nifti.write(pred, np.zeros((10, 10, 10, 2), np.uint8))
        return paths, "c1.nii.gz: expected a 3-D volume"
    if kind == "truncated":
        data = gzip.decompress(pet.read_bytes())
        pet.write_bytes(gzip.compress(data[: len(data) // 2]))
        return paths, "pet/c1.nii.gz: not a readable NIfTI file"
    if kind == "not-nifti":
        pred.write_text("not an image")
        return paths, "c1.nii.gz: not a readable NIfTI file"
    if kind == "empty":
        for p in (paths["pred"] / "unet").iterdir():
            p.unlink()
        return paths, "pred: no prediction images found"
    if kind == "no-reference":
        (paths["ref"] / "c1.nii.gz").unlink()
        nifti.write(paths["ref"] / "other.nii.gz", np.zeros((10, 10, 10), np.uint8))
        return paths, "c1.nii.gz: no reference mask for case 'c1'"
    if kind == "no-pet":
        pet.rename(pet.with_name("other.nii.gz"))
        return paths, "c1.nii.gz: no PET volume for case 'c1'"
    if kind == "duplicate":
        nifti.write(pred.with_name("c1.nii"), np.zeros((10, 10, 10), np.uint8))
        return paths, "duplicate case id 'c1'"
    raise AssertionError(kind)


BAD = ["grid", "labels", "nan", "2d", "4d", "truncated", "not-nifti", "empty", "no-reference",
       "no-pet", "duplicate"]  # fmt: skip


@pytest.mark.parametrize("kind", BAD)
def test_bad_input_exit_2_one_line_no_output(tmp_path, nifti, kind):
    paths, message = _bad_input(tmp_path, nifti, kind)
    out = tmp_path / "out"
    res = run(*measure_args(paths, out))
    assert res.exit_code == 2, res.output
    line = error_line(res)
    assert line.startswith("Error: ") and message in line, line
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no temp leftovers


def test_label_option_selects_value(tmp_path, nifti):
    paths, _ = _bad_input(tmp_path, nifti, "labels")
    for p in list(paths["ref"].iterdir()):
        arr = np.asarray(nib.load(p).dataobj) * 2
        nifti.write(p, arr.astype(np.uint8))
    res = run(*measure_args(paths, tmp_path / "out", "--label", "2"))
    assert res.exit_code == 0, res.output


def test_existing_output_refused_unless_overwrite(tmp_path, nifti):
    paths = nifti.cohort(tmp_path, cases=("c1",))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    res = run(*measure_args(paths, out))
    assert res.exit_code == 2 and "out: output folder exists; pass --overwrite" in error_line(res)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    res = run(*measure_args(paths, out, "--overwrite"))  # not an output of agree: kept
    assert res.exit_code == 2 and "out: not an output of this toolkit" in error_line(res)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    out.joinpath("keep.txt").unlink()
    assert run(*measure_args(paths, out, "--overwrite")).exit_code == 0  # an empty folder
    (out / "stale.txt").write_text("x")  # an earlier output: replaced
    res = run(*measure_args(paths, out, "--overwrite"))
    assert res.exit_code == 0 and (out / "cases.csv").exists() and not (out / "stale.txt").exists()


def test_resample_option(tmp_path, nifti):
    paths = nifti.cohort(tmp_path, cases=("c1",))
    pred = np.zeros((20, 20, 10), np.uint8)  # 1 mm in-plane instead of 2 mm
    pred[2:8, 2:8, 1:4] = 1
    nifti.write(paths["pred"] / "unet" / "c1.nii.gz", pred, spacing=(1.0, 1.0, 3.0))
    assert run(*measure_args(paths, tmp_path / "a")).exit_code == 2
    res = run(*measure_args(paths, tmp_path / "b", "--resample"))
    assert res.exit_code == 0, res.output
    m = pd.read_csv(tmp_path / "b" / "measurements.csv").set_index("metric")
    assert m.loc["tmtv", "predicted"] == pytest.approx(27 * 0.012)  # 3×3×3 voxels of 12 µl


def test_pet_on_another_grid_does_not_suggest_resample(tmp_path, nifti):
    # review: the error told the user to "pass --resample", which only moves predictions
    paths = nifti.cohort(tmp_path, cases=("c1",))
    nifti.write(paths["pet"] / "c1.nii.gz", np.ones((10, 10, 11), np.float32))
    res = run(*measure_args(paths, tmp_path / "out", "--resample", "--strict"))
    assert res.exit_code == 2, res.output
    line = error_line(res)
    assert "pet/c1.nii.gz: grid differs" in line and "the PET must be on the reference grid" in line
    assert "pass --resample" not in line


def test_dry_run_lists_cases_and_writes_nothing(tmp_path, nifti):
    paths = nifti.cohort(tmp_path)
    res = run(*measure_args(paths, tmp_path / "out", "--dry-run"))
    assert res.exit_code == 0
    assert "c1\treference=" in res.output and "2 case(s), 1 method(s)" in res.output
    assert not (tmp_path / "out").exists()


def test_shards_merge_to_the_full_run(tmp_path, nifti):
    paths = nifti.cohort(tmp_path, cases=("c1", "c2", "c3"), methods=("a", "b"))
    assert run(*measure_args(paths, tmp_path / "full")).exit_code == 0
    for k in range(2):
        res = run(*measure_args(paths, tmp_path / f"s{k}", "--shard", f"{k}/2"))
        assert res.exit_code == 0, res.output
    res = run("merge", tmp_path / "s0", tmp_path / "s1", "-o", tmp_path / "merged")
    assert res.exit_code == 0, res.output
    for name in ("measurements", "cases", "lesions"):
        a = pd.read_csv(tmp_path / "full" / f"{name}.csv")
        b = pd.read_csv(tmp_path / "merged" / f"{name}.csv")
        pd.testing.assert_frame_equal(a, b)
    dup = run("merge", tmp_path / "s0", tmp_path / "s0", "-o", tmp_path / "dup")
    assert dup.exit_code == 2 and "is also in" in error_line(dup)
    bad = run(*measure_args(paths, tmp_path / "x", "--shard", "2/2"))
    assert bad.exit_code == 2 and "0-based" in bad.output


def test_resume_measures_only_missing_cases(tmp_path, nifti):
    paths = nifti.cohort(tmp_path, cases=("c1", "c2"))
    out = tmp_path / "out"
    assert run(*measure_args(paths, out, "--shard", "0/2")).exit_code == 0
    res = run(*measure_args(paths, out, "--resume"))
    assert res.exit_code == 0, res.output
    assert "resume: kept 1 finished case(s)" in res.output
    assert "measured 2 case(s)" in res.output
    full = tmp_path / "full"
    run(*measure_args(paths, full))
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "lesions.csv"), pd.read_csv(full / "lesions.csv")
    )


def test_resume_never_replaces_a_folder_without_tables(tmp_path, nifti):
    # review: --resume on an existing folder without measure tables (a typo in -o) replaced
    # the whole folder, deleting the user's files
    paths = nifti.cohort(tmp_path, cases=("c1",))
    out = tmp_path / "project"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    res = run(*measure_args(paths, out, "--resume"))
    assert res.exit_code == 2, res.output
    assert "project: not an output of this toolkit" in error_line(res)
    assert (out / "notes.txt").read_text() == "keep me"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(*measure_args(paths, empty, "--resume")).exit_code == 0


@pytest.mark.parametrize("role", ["pred", "ref", "pet"])
def test_missing_folder_is_one_line(tmp_path, nifti, role):
    # review: click printed a three-line usage error for a missing PRED/--reference/--pet
    paths = nifti.cohort(tmp_path, cases=("c1",))
    paths[role] = tmp_path / "nope"
    res = run(*measure_args(paths, tmp_path / "out"))
    assert res.exit_code == 2, res.output
    assert error_line(res) == f"Error: {tmp_path / 'nope'}: folder not found"
    assert not (tmp_path / "out").exists()
    merged = run("merge", tmp_path / "nope", "-o", tmp_path / "m")
    assert merged.exit_code == 2 and error_line(merged).endswith("nope: folder not found")


def test_merge_help_shows_examples():
    res = CliRunner().invoke(agree, ["merge", "--help"])
    assert res.exit_code == 0 and "agree merge out/shard_0 out/shard_1 -o out/all" in res.output


def test_parquet_and_workers(tmp_path, nifti):
    paths = nifti.cohort(tmp_path, cases=("c1", "c2"))
    args = list(measure_args(paths, tmp_path / "out", "--format", "parquet"))
    args[args.index("-j") + 1] = "2"
    res = run(*args)
    assert res.exit_code == 0, res.output
    m = pd.read_parquet(tmp_path / "out" / "measurements.parquet")
    ref = quantify(np.pad(np.ones((3, 3, 3)), ((1, 6), (1, 6), (1, 6))), np.ones((10,) * 3),
                   (2, 2, 3))  # fmt: skip
    assert m[m.metric == "tmtv"].reference.iloc[0] == pytest.approx(ref["tmtv"] + 12 * 0.012)


def test_reference_and_pet_are_required(tmp_path, nifti):
    paths = nifti.cohort(tmp_path, cases=("c1",))
    res = run("measure", paths["pred"], "--pet", paths["pet"], "-o", tmp_path / "out")
    assert res.exit_code == 2 and "Missing option '--reference'" in res.output
    assert not (tmp_path / "out").exists()


def test_resume_retries_failed_cases(tmp_path, nifti):
    paths = nifti.cohort(tmp_path, cases=("c1", "c2"))
    good = (paths["pred"] / "unet" / "c2.nii.gz").read_bytes()
    nifti.write(paths["pred"] / "unet" / "c2.nii.gz", np.full((10, 10, 10), 3, np.uint8))
    out = tmp_path / "out"
    assert run(*measure_args(paths, out)).exit_code == 0
    assert (out / "failed.csv").exists()
    (paths["pred"] / "unet" / "c2.nii.gz").write_bytes(good)
    res = run(*measure_args(paths, out, "--resume"))
    assert res.exit_code == 0, res.output
    assert "resume: kept 1 finished case(s)" in res.output
    assert pd.read_csv(out / "cases.csv").case_id.tolist() == ["c1", "c2"]
    assert not (out / "failed.csv").exists()


def test_label_zero_is_refused(tmp_path, nifti):
    # review: --label 0 made the whole background one "lesion" in every mask
    paths = nifti.cohort(tmp_path, cases=("c1",))
    res = run(*measure_args(paths, tmp_path / "out", "--label", "0"))
    assert res.exit_code == 2 and "--label" in res.output
    assert not (tmp_path / "out").exists()
    from agreement import MeasureOptions

    with pytest.raises(ValueError, match="label must be a positive"):
        MeasureOptions(label=0)
