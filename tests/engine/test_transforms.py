"""Data pipeline: dataset folder, CT/PET intensities, resampling, crops, pos/neg patches, caches."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")
nib = pytest.importorskip("nibabel")

from monai.transforms import Compose, MapTransform  # noqa: E402

from agreement.errors import InputError  # noqa: E402
from segengine.data.io import datalist, read_splits  # noqa: E402
from segengine.data.transforms import (  # noqa: E402
    DataConfig,
    infer_transforms,
    make_dataset,
    train_transforms,
    val_transforms,
)

pytestmark = pytest.mark.engine

SHAPE = (24, 20, 16)
SPACING = (4.0, 4.0, 4.0)
BODY = (slice(4, 20), slice(3, 17), slice(2, 14))  # voxels with CT > -500 HU
LESION = (slice(10, 13), slice(9, 12), slice(7, 10))


def _write(path, array, spacing=SPACING):
    nib.save(nib.Nifti1Image(array, np.diag([*spacing, 1.0])), str(path))


def _case(root, case, ct_max=3000.0):
    ct = np.full(SHAPE, -1000.0, dtype=np.float32)
    ct[BODY] = 40.0
    ct[4:6, 3:17, 2:14] = -100.0  # fat layer: inside the body, below 0 HU
    ct[8, 5, 5] = ct_max  # bone / metal
    ct[9, 5, 5] = 1000.0
    pet = np.zeros(SHAPE, dtype=np.float32)
    pet[BODY] = 0.5
    pet[LESION] = 12.5
    label = np.zeros(SHAPE, dtype=np.uint8)
    label[LESION] = 1
    _write(root / "imagesTr" / f"{case}_0000.nii.gz", ct)
    _write(root / "imagesTr" / f"{case}_0001.nii.gz", pet)
    _write(root / "labelsTr" / f"{case}.nii.gz", label)


@pytest.fixture
def data_dir(tmp_path):
    (tmp_path / "imagesTr").mkdir()
    (tmp_path / "labelsTr").mkdir()
    meta = {"channel_names": {"0": "CT", "1": "PET"}, "labels": {"background": 0, "lesion": 1}}
    (tmp_path / "dataset.json").write_text(json.dumps(meta))
    splits = [{"train": ["b"], "val": ["a"]}, {"train": ["a"], "val": ["b"]}]
    (tmp_path / "splits_final.json").write_text(json.dumps(splits))
    _case(tmp_path, "a")
    _case(tmp_path, "b", ct_max=2000.0)
    return tmp_path


CONFIG = DataConfig(spacing=SPACING, patch_size=(8, 8, 8))


def test_datalist_and_splits(data_dir):
    files = datalist(data_dir)
    assert [f["case_id"] for f in files] == ["a", "b"]
    assert files[0]["pet"].endswith("imagesTr/a_0001.nii.gz")
    assert files[1]["label"].endswith("labelsTr/b.nii.gz")
    assert [f["case_id"] for f in datalist(data_dir, ["b"])] == ["b"]
    assert "label" not in datalist(data_dir, labels=None)[0]
    assert read_splits(data_dir)[0] == {"train": ["b"], "val": ["a"]}


def test_datalist_missing_file_names_it(data_dir):
    (data_dir / "labelsTr" / "b.nii.gz").unlink()
    with pytest.raises(InputError, match="b.nii.gz: missing label"):
        datalist(data_dir)


def test_bad_dataset_json_and_splits(data_dir):
    (data_dir / "splits_final.json").write_text(json.dumps([{"train": ["a"], "val": ["a"]}]))
    with pytest.raises(InputError, match="splits_final.json: fold 0"):
        read_splits(data_dir)
    (data_dir / "dataset.json").write_text(json.dumps({"channel_names": {"0": "PET", "1": "CT"}}))
    with pytest.raises(InputError, match="dataset.json: channel_names"):
        datalist(data_dir)


def test_val_transforms_crop_clip_and_suv(data_dir):
    out = val_transforms(CONFIG)(datalist(data_dir)[0])
    image, label = out["image"], out["label"]
    # body box (16, 14, 12) voxels; at the same spacing no resampling
    assert tuple(image.shape) == (2, 16, 14, 12)
    assert tuple(label.shape) == (1, 16, 14, 12)
    ct, pet = image[0].numpy(), image[1].numpy()
    # paper: (HU + 1000) / 4000, clipped; the crop starts at voxel (4, 3, 2)
    assert ct[0, 0, 0] == pytest.approx(0.225, abs=1e-5)  # -100 HU
    assert ct[2, 0, 0] == pytest.approx(0.26, abs=1e-5)  # 40 HU
    assert ct[4, 2, 3] == pytest.approx(1.0, abs=1e-5)  # 3000 HU
    assert ct[5, 2, 3] == pytest.approx(0.5, abs=1e-5)  # 1000 HU
    assert pet.max() == pytest.approx(12.5, abs=1e-4)  # SUV unchanged
    assert int(label.sum()) == 27


def test_ct_above_window_is_clipped(data_dir):
    item = datalist(data_dir)[0]
    img = nib.load(item["ct"])
    ct = np.asarray(img.dataobj).copy()
    ct[8, 5, 5] = 6000.0
    _write(item["ct"], ct)
    out = val_transforms(CONFIG)(item)
    assert float(out["image"][0].max()) == pytest.approx(1.0, abs=1e-5)
    assert float(out["image"][0][5, 2, 3]) == pytest.approx(0.5, abs=1e-5)


def test_reference_mode_is_per_volume_min_max(data_dir):
    item = datalist(data_dir)[1]  # CT max 2000 HU
    paper = val_transforms(CONFIG)(item)["image"][0]
    ref = val_transforms(CONFIG, compat="reference")(item)["image"][0]
    assert float(paper.max()) == pytest.approx(0.75, abs=1e-5)  # (2000 + 1000) / 4000
    # pca_segment get_valid_transforms: crop to CT > 0 HU (drops the fat layer), then
    # (HU - min) / (max - min) over the cropped volume: 40 HU -> 0, 2000 -> 1, 1000 -> 960/1960
    assert tuple(paper.shape) == (16, 14, 12)
    assert tuple(ref.shape) == (14, 14, 12)
    assert float(ref.min()) == 0.0 and float(ref.max()) == pytest.approx(1.0)
    assert float(ref[3, 2, 3]) == pytest.approx(960 / 1960, abs=1e-5)


def test_resampling_to_coarser_spacing(data_dir):
    out = val_transforms(CONFIG, spacing=(8.0, 8.0, 8.0))(datalist(data_dir)[0])
    for got, n in zip(out["image"].shape[1:], (16, 14, 12), strict=True):
        assert got in (n // 2, n // 2 + 1)  # MONAI keeps the physical extent, rounding
    assert set(np.unique(out["label"].numpy())) <= {0.0, 1.0}  # nearest for the label
    assert tuple(out["image"].meta["pixdim"][1:4]) == (8.0, 8.0, 8.0)


def test_infer_transforms_have_no_label(data_dir):
    out = infer_transforms(CONFIG)(datalist(data_dir, labels=None)[0])
    assert set(out) >= {"image", "case_id"} and "label" not in out
    assert tuple(out["image"].shape) == (2, 16, 14, 12)


@pytest.mark.parametrize("precompute", [True, False])
def test_train_patches_four_to_one(data_dir, precompute):
    # RandCropByPosNegLabeld pos=4, neg=1: 80 % of patch centres on a lesion voxel
    transforms = train_transforms(CONFIG, augment=False, precompute_indices=precompute)
    transforms.set_random_state(seed=0)
    dataset = make_dataset(datalist(data_dir), transforms, cache="memory")
    centres = []
    for _ in range(100):
        for i in range(len(dataset)):
            (sample,) = dataset[i]
            assert tuple(sample["image"].shape) == (2, 8, 8, 8)
            centres.append(float(sample["label"][0, 4, 4, 4]))
    fraction = np.mean(centres)
    assert 0.72 < fraction < 0.88  # binomial n=200, p=0.8: ±2.8 SD


def test_train_affine_augmentation_keeps_shapes(data_dir):
    transforms = train_transforms(CONFIG, num_samples=2)
    transforms.set_random_state(seed=1)
    samples = transforms(datalist(data_dir)[0])
    assert len(samples) == 2
    for s in samples:
        assert tuple(s["image"].shape) == (2, 8, 8, 8)
        assert set(np.unique(s["label"].numpy())) <= {0.0, 1.0}


def test_negative_case_gives_background_patches(data_dir):
    item = datalist(data_dir)[0]
    _write(item["label"], np.zeros(SHAPE, dtype=np.uint8))
    transforms = train_transforms(CONFIG, num_samples=4)
    transforms.set_random_state(seed=2)
    with pytest.warns(UserWarning, match="foregrounds 0"):  # MONAI: pos ratio set to 0
        samples = transforms(item)
    assert len(samples) == 4
    assert all(float(s["label"].sum()) == 0 for s in samples)


def test_sampling_leaves_the_memory_cache_untouched(data_dir):
    transforms = train_transforms(CONFIG, augment=False)
    dataset = make_dataset(datalist(data_dir), transforms, cache="memory")
    cached = dataset._cache[0]
    before = {k: cached[k].clone() for k in ("ct", "pet", "label")}
    n_ops = len(cached["label"].applied_operations)
    for _ in range(10):
        (sample,) = dataset[0]
        sample["label"] += 7  # in-place edits of a patch must not reach the cache
        sample["image"] += 7
        assert "label_fg_indices" not in sample
    for key, value in before.items():
        assert torch.equal(cached[key], value)
    assert len(cached["label"].applied_operations) == n_ops


class _Count(MapTransform):
    calls = 0

    def __call__(self, data):
        type(self).calls += 1
        return dict(data)


@pytest.mark.parametrize("cache", ["memory", "disk"])
def test_cache_preprocesses_once(data_dir, tmp_path, cache):
    _Count.calls = 0
    base = train_transforms(CONFIG, augment=False)
    transforms = Compose([_Count(keys="ct"), *base.transforms])
    files = datalist(data_dir)
    dataset = make_dataset(files, transforms, cache=cache, cache_dir=tmp_path / "cache")
    for _ in range(3):
        for i in range(len(dataset)):
            dataset[i]
    assert _Count.calls == len(files)
    if cache == "disk":
        assert len(list((tmp_path / "cache").glob("*.pt"))) == len(files)
        again = make_dataset(files, transforms, cache="disk", cache_dir=tmp_path / "cache")
        again[0]
        assert _Count.calls == len(files)
        other = Compose(
            [_Count(keys="ct"), *train_transforms(CONFIG, compat="reference").transforms]
        )
        make_dataset(files, other, cache="disk", cache_dir=tmp_path / "cache")[0]
        assert _Count.calls == len(files) + 1  # other settings, other cache files


def test_uncached_dataset_runs_every_time(data_dir):
    _Count.calls = 0
    transforms = Compose([_Count(keys="ct"), *val_transforms(CONFIG).transforms])
    dataset = make_dataset(datalist(data_dir), transforms, cache=None)
    dataset[0], dataset[0]
    assert _Count.calls == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="compat"):
        DataConfig(compat="code")
    with pytest.warns(FutureWarning, match="compat='paper'"):
        assert DataConfig(compat="paper") == DataConfig()
    from segengine.config import TrainConfig

    with pytest.warns(FutureWarning, match="compat='paper'"):
        assert TrainConfig(compat="paper") == TrainConfig()
    with pytest.raises(ValueError, match="cache_dir"):
        make_dataset([], val_transforms(), cache="disk")
    with pytest.raises(ValueError, match="cache must be"):
        make_dataset([], val_transforms(), cache="ram")
