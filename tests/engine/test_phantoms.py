"""Synthetic PSMA phantoms: distributions, files, determinism, CLI (numpy only, no torch)."""

from __future__ import annotations

import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose
from scipy import ndimage, stats

from segengine.cli_phantoms import phantoms
from segengine.data import phantoms as ph

N_CASES = 50
CONN18 = ndimage.generate_binary_structure(3, 2)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    out = tmp_path_factory.mktemp("ph") / "cohort"
    ph.make_phantoms(out, N_CASES, seed=0, shape="tiny", progress=False)
    table = pd.read_csv(out / "phantoms.csv")
    ids = [f"PSMA_{i:04d}" for i in range(N_CASES)]
    counts = table.groupby("case_id").size().reindex(ids, fill_value=0)
    return out, table, counts


def _load(path):
    img = nib.load(path)
    return np.asanyarray(img.dataobj), img


# --- the documented distributions -------------------------------------------------------------


def test_count_probabilities_match_cohort():
    # Papers: 1.80 +/- 1.30 lesions per scan, at most 5 (684 lesions in 380 scans).
    k = np.arange(1, 6)
    p = ph.COUNT_PROBS
    assert p.sum() == pytest.approx(1.0)
    assert (p * k).sum() == pytest.approx(1.80, abs=0.005)
    assert np.sqrt((p * k**2).sum() - (p * k).sum() ** 2) == pytest.approx(1.30, abs=0.005)


@pytest.mark.parametrize(
    ("params", "target"),
    [(ph.VOLUME_LOGNORMAL, ph.COHORT["volume_ml"]), (ph.SUV_MAX_LOGNORMAL, ph.COHORT["suv_max"])],
)
def test_truncated_lognormal_moments_match_cohort(params, target):
    # Independent: scipy.stats.lognorm expectation by numerical integration over [low, high].
    mu, sigma, low, high = params
    dist = stats.lognorm(s=sigma, scale=np.exp(mu))
    mean = dist.expect(lambda x: x, lb=low, ub=high, conditional=True)
    second = dist.expect(lambda x: x**2, lb=low, ub=high, conditional=True)
    assert_allclose([mean, np.sqrt(second - mean**2)], target, rtol=1e-3)


def test_truncated_lognormal_quantiles_match_scipy():
    mu, sigma, low, high = ph.VOLUME_LOGNORMAL
    u = np.linspace(0.001, 0.999, 41)
    dist = stats.lognorm(s=sigma, scale=np.exp(mu))
    expected = dist.ppf(dist.cdf(low) + u * (dist.cdf(high) - dist.cdf(low)))
    assert_allclose(ph._truncated_lognormal(u, *ph.VOLUME_LOGNORMAL), expected, rtol=1e-9)


def test_lesion_sampler_matches_cohort_moments():
    draws = [ph._draw_lesions(np.random.default_rng(i), 0.1) for i in range(6000)]
    counts = np.array([len(d) for d in draws])
    positive = counts[counts > 0]
    assert np.mean(counts == 0) == pytest.approx(0.1, abs=0.015)
    assert positive.max() == 5
    assert positive.mean() == pytest.approx(1.80, abs=0.05)
    assert positive.std() == pytest.approx(1.30, abs=0.05)
    lesions = pd.DataFrame([row for d in draws for row in d], columns=["site", "vol", "suv"])
    assert lesions.vol.mean() == pytest.approx(6.68, rel=0.05)
    assert lesions.vol.std() == pytest.approx(10.20, rel=0.15)  # heavy tail: loose
    assert lesions.suv.mean() == pytest.approx(12.65, rel=0.05)
    assert lesions.suv.std() == pytest.approx(14.46, rel=0.15)
    assert lesions.vol.between(0.2, 100).all() and lesions.suv.between(2, 120).all()
    # at most one local recurrence per scan
    assert max(sum(s == "prostate_bed" for s, _, _ in d) for d in draws) == 1


# --- the written cohort -----------------------------------------------------------------------


def test_cohort_statistics_in_documented_ranges(cohort):
    # docs/phantoms.md: ranges expected over 50 tiny cases (sampling spread of the heavy tails).
    _, table, counts = cohort
    assert counts.between(0, 5).all()
    assert 1.2 <= counts.mean() <= 2.3
    assert 0.8 <= counts.std() <= 1.7
    assert 1 <= (counts == 0).sum() <= 12
    assert 3.5 <= table.volume_ml.mean() <= 11.0
    assert 1.5 <= table.volume_ml.median() <= 6.0
    assert 7.0 <= table.suv_max.mean() <= 20.0
    assert 2.5 <= table.suv_mean.mean() <= 8.0
    assert set(table.site) <= set(ph.SITES)
    assert table.site.nunique() >= 3


def test_measured_suvmax_equals_drawn_value(cohort):
    # The lesion gain is solved so that the noisy image's SUVmax equals the drawn one, unless a
    # neighbouring hot structure already exceeds it.
    _, table, _ = cohort
    close = np.isclose(table.suv_max, table.suv_max_target, rtol=1e-3)
    assert close.mean() >= 0.8
    assert (table.suv_max >= table.suv_max_target * (1 - 1e-3)).all()


def test_masks_agree_with_table(cohort):
    out, table, counts = cohort
    voxel_ml = np.prod([3.64, 3.64, 3.27]) / 1000
    for case, n in counts.items():
        mask, img = _load(out / "labelsTr" / f"{case}.nii.gz")
        pet, _ = _load(out / "imagesTr" / f"{case}_0001.nii.gz")
        labels, found = ndimage.label(mask > 0, structure=CONN18)
        assert found == n, case
        rows = table[table.case_id == case]
        sizes = np.bincount(labels.ravel())[1:]
        assert_allclose(np.sort(sizes * voxel_ml), np.sort(rows.volume_ml), rtol=1e-5)
        assert_allclose(np.sort(sizes), np.sort(rows.voxels))
        maxima = ndimage.maximum(pet, labels, index=np.arange(1, n + 1)) if n else []
        assert_allclose(np.sort(maxima), np.sort(rows.suv_max), rtol=1e-5)


def test_lesions_brighter_than_surroundings(cohort):
    out, table, counts = cohort
    for case in counts[counts > 0].index[:15]:
        mask, _ = _load(out / "labelsTr" / f"{case}.nii.gz")
        pet, _ = _load(out / "imagesTr" / f"{case}_0001.nii.gz")
        labels, n = ndimage.label(mask > 0, structure=CONN18)
        for k in range(1, n + 1):
            lesion = labels == k
            ring = ndimage.binary_dilation(lesion, iterations=2) & ~(mask > 0)
            assert pet[lesion].max() > np.median(pet[ring]), case


def test_files_layout_and_headers(cohort):
    out, _, _ = cohort
    ct, img = _load(out / "imagesTr" / "PSMA_0003_0000.nii.gz")
    pet, pet_img = _load(out / "imagesTr" / "PSMA_0003_0001.nii.gz")
    mask, mask_img = _load(out / "labelsTr" / "PSMA_0003.nii.gz")
    assert ct.shape == pet.shape == mask.shape == ph.SIZES["tiny"]
    assert (ct.dtype, pet.dtype, mask.dtype) == (np.int16, np.float32, np.uint8)
    assert_allclose(nib.affines.voxel_sizes(img.affine), [3.64, 3.64, 3.27])
    assert_allclose(pet_img.affine, img.affine)
    assert_allclose(mask_img.affine, img.affine)
    assert int(img.header["qform_code"]) == int(img.header["sform_code"]) == 1
    assert set(np.unique(mask)) <= {0, 1}
    # CT in HU: air, fat, soft tissue and bone present
    assert ct.min() <= -950 and ct.max() >= 300
    assert np.any((ct > -150) & (ct < -50)) and np.any((ct > 20) & (ct < 70))
    # PET in SUV: physiological hot spots (kidneys, bladder, salivary glands) well above liver
    assert pet.min() >= 0 and np.percentile(pet, 99.9) > 8
    assert len(list((out / "imagesTr").iterdir())) == 2 * N_CASES


def test_dataset_json_and_splits(cohort):
    out, _, _ = cohort
    ds = json.loads((out / "dataset.json").read_text())
    assert ds["channel_names"] == {"0": "CT", "1": "PET"}
    assert ds["labels"] == {"background": 0, "lesion": 1}
    assert ds["numTraining"] == N_CASES and ds["file_ending"] == ".nii.gz"
    assert ds["seed"] == 0 and ds["generator_version"] == ph.GENERATOR_VERSION
    assert ds["spacing"] == [3.64, 3.64, 3.27]
    splits = json.loads((out / "splits_final.json").read_text())
    ids = {f"PSMA_{i:04d}" for i in range(N_CASES)}
    assert len(splits) == 5
    vals = [case for fold in splits for case in fold["val"]]
    assert sorted(vals) == sorted(ids)  # every case in exactly one validation fold
    for fold in splits:
        assert set(fold["train"]) | set(fold["val"]) == ids
        assert not set(fold["train"]) & set(fold["val"])
        assert len(fold["val"]) == N_CASES // 5


# --- determinism ------------------------------------------------------------------------------


def _bytes(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.*")}


def test_same_seed_identical_bytes_and_case_independent_of_count(tmp_path):
    a = _bytes(ph.make_phantoms(tmp_path / "a", 3, seed=7, shape="tiny", folds=2, progress=False))
    b = _bytes(ph.make_phantoms(tmp_path / "b", 3, seed=7, shape="tiny", folds=2, progress=False))
    assert a == b
    c = _bytes(ph.make_phantoms(tmp_path / "c", 2, seed=7, shape="tiny", folds=2, progress=False))
    for name in ["imagesTr/PSMA_0001_0001.nii.gz", "labelsTr/PSMA_0001.nii.gz"]:
        assert c[name] == a[name]
    d = _bytes(ph.make_phantoms(tmp_path / "d", 3, seed=8, shape="tiny", folds=2, progress=False))
    assert d["imagesTr/PSMA_0000_0001.nii.gz"] != a["imagesTr/PSMA_0000_0001.nii.gz"]
    assert d["imagesTr/PSMA_0000_0000.nii.gz"] != a["imagesTr/PSMA_0000_0000.nii.gz"]


def test_options_change_the_images(tmp_path):
    kw = {"seed": 3, "shape": (24, 24, 32), "folds": 2, "progress": False}
    sharp = ph.make_phantoms(tmp_path / "s", 2, fwhm_mm=0, counts_per_suv=None, **kw)
    blurred = ph.make_phantoms(tmp_path / "b", 2, **kw)
    pet_sharp, _ = _load(sharp / "imagesTr" / "PSMA_0000_0001.nii.gz")
    pet_blur, _ = _load(blurred / "imagesTr" / "PSMA_0000_0001.nii.gz")
    assert pet_sharp.shape == (24, 24, 32)
    # the PSF lowers the peaks of the organ uptake
    assert pet_blur.max() < pet_sharp.max()


def test_held_out_cases(tmp_path):
    out = ph.make_phantoms(
        tmp_path / "t", 3, seed=7, shape="tiny", folds=2, test_cases=2, progress=False
    )
    assert sorted(p.name for p in (out / "labelsTs").iterdir()) == [
        "PSMA_0003.nii.gz",
        "PSMA_0004.nii.gz",
    ]
    assert len(list((out / "imagesTs").iterdir())) == 4
    assert len(list((out / "labelsTr").iterdir())) == 3
    ds = json.loads((out / "dataset.json").read_text())
    assert (ds["numTraining"], ds["numTest"]) == (3, 2)
    splits = json.loads((out / "splits_final.json").read_text())
    assert all("PSMA_0003" not in f["train"] + f["val"] for f in splits)
    table = pd.read_csv(out / "phantoms.csv")
    assert set(table.subset) <= {"train", "test"}
    assert (table.subset == "test").eq(table.case_id >= "PSMA_0003").all()
    # a case is the same whether it is a training or a held-out case
    alone = ph.make_phantoms(tmp_path / "a", 5, seed=7, shape="tiny", folds=2, progress=False)
    a = (out / "labelsTs" / "PSMA_0004.nii.gz").read_bytes()
    assert a == (alone / "labelsTr" / "PSMA_0004.nii.gz").read_bytes()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cases": 0},
        {"cases": 3, "folds": 4},
        {"shape": "huge"},
        {"shape": (8, 8, 8)},
        {"negative_fraction": 1.0},
        {"fwhm_mm": -1.0},
        {"counts_per_suv": 0.0},
        {"spacing": (1.0, 0.0, 1.0)},
        {"test_cases": -1},
    ],
)
def test_bad_arguments_raise(tmp_path, kwargs):
    args = {"cases": 3, "folds": 2, **kwargs}
    with pytest.raises(ValueError):
        ph.make_phantoms(tmp_path / "x", args.pop("cases"), 0, progress=False, **args)
    assert not (tmp_path / "x").exists()


def test_module_does_not_import_torch():
    code = "import sys, segengine.data.phantoms; print('torch' in sys.modules or 'monai' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# --- CLI --------------------------------------------------------------------------------------


def test_cli_writes_and_refuses_existing_folder(tmp_path):
    out = tmp_path / "cli"
    args = ["-o", str(out), "--cases", "2", "--seed", "1", "--size", "tiny", "--folds", "2"]
    runner = CliRunner()
    result = runner.invoke(phantoms, [*args, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert (out / "labelsTr" / "PSMA_0001.nii.gz").exists()
    again = runner.invoke(phantoms, [*args, "--no-progress"])
    assert again.exit_code == 2
    assert "exists" in again.output and str(out) in again.output
    replaced = runner.invoke(phantoms, [*args, "--no-progress", "--overwrite"])
    assert replaced.exit_code == 0, replaced.output


def test_cli_argument_errors_exit_2(tmp_path):
    runner = CliRunner()
    too_few = runner.invoke(phantoms, ["-o", str(tmp_path / "x"), "--cases", "3", "--folds", "5"])
    assert too_few.exit_code == 2 and "--folds" in too_few.output
    bad_size = runner.invoke(phantoms, ["-o", str(tmp_path / "y"), "--size", "huge"])
    assert bad_size.exit_code == 2


def test_cli_registered_in_segengine_group():
    from segengine.cli import segengine

    assert segengine.commands["phantoms"] is phantoms
