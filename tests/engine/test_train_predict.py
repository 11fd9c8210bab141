"""End to end on tiny phantoms: train 2 folds x 2 epochs, kill and resume, predict, ensemble, measure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")
nib = pytest.importorskip("nibabel")

from segengine import training  # noqa: E402
from segengine.config import TrainConfig  # noqa: E402
from segengine.data.phantoms import make_phantoms  # noqa: E402
from segengine.infer import predict, to_original_grid  # noqa: E402

pytestmark = pytest.mark.engine

TINY = {"channels": (4, 8, 16), "strides": (2, 2), "num_res_units": 0}


def tiny_config(**changes) -> TrainConfig:
    base = TrainConfig(
        network="unet",
        loss="dice_ce",
        epochs=2,
        val_interval=1,
        batch_size=2,
        patch_size=(16, 16, 16),
        spacing=4.0,
        steps_per_epoch=2,
        network_kwargs=TINY,
    )
    return base.replace(**changes)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("phantoms")
    return make_phantoms(root / "ph", 6, seed=3, shape=(24, 24, 32), folds=2, progress=False)


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("runs")
    return [training.train(tiny_config(fold=k), data, out, progress=False) for k in (0, 1)]


def _state(path: Path) -> dict:
    return torch.load(path, weights_only=True)


class Killed(Exception):
    pass


def test_run_folder_contents(runs, data):
    run = runs[0]
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith(".")) == [
        "best.pt",
        "config.json",
        "last.pt",
        "log.csv",
        "splits.json",
    ]
    assert TrainConfig.from_dict(json.loads((run / "config.json").read_text())) == tiny_config()
    # The data folder's nnU-Net splits are reused and saved in the same format.
    assert json.loads((run / "splits.json").read_text()) == json.loads(
        (data / "splits_final.json").read_text()
    )
    rows = (run / "log.csv").read_text().splitlines()
    assert rows[0] == ",".join(training.LOG_COLUMNS)
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2"]
    state = _state(run / "last.pt")
    assert state["epoch"] == 2
    assert {"model", "optimizer", "scheduler", "scaler", "rng"} <= set(state)
    # Cosine schedule to 0 over 2 epochs: lr 2e-4 in epoch 1, 1e-4 in epoch 2, then 0.
    assert [float(r.split(",")[4]) for r in rows[1:]] == pytest.approx([2e-4, 1e-4])
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_killed_run_resumes_to_identical_weights(runs, data, tmp_path, monkeypatch):
    reference = _state(runs[0] / "last.pt")
    real_save = training._save

    def save_then_die(path, state):
        real_save(path, state)
        if path.name == "last.pt" and state["epoch"] == 1:
            raise Killed  # as if the process were killed right after the epoch-1 checkpoint

    monkeypatch.setattr(training, "_save", save_then_die)
    with pytest.raises(Killed):
        training.train(tiny_config(fold=0), data, tmp_path, progress=False)
    run = tmp_path / tiny_config().run_name
    assert _state(run / "last.pt")["epoch"] == 1
    with pytest.raises(Exception, match="pass --resume"):
        training.train(tiny_config(fold=0), data, tmp_path, progress=False)
    monkeypatch.setattr(training, "_save", real_save)
    training.train(tiny_config(fold=0), data, tmp_path, resume=True, progress=False)

    resumed = _state(run / "last.pt")
    assert resumed["epoch"] == 2
    assert reference["model"].keys() == resumed["model"].keys()
    for key, value in reference["model"].items():
        assert torch.equal(value, resumed["model"][key]), key
    for a, b in zip(
        reference["optimizer"]["state"].values(),
        resumed["optimizer"]["state"].values(),
        strict=True,
    ):
        assert torch.equal(a["exp_avg"], b["exp_avg"])
    strip = [",".join(r.split(",")[:5]) for r in (runs[0] / "log.csv").read_text().splitlines()]
    again = [",".join(r.split(",")[:5]) for r in (run / "log.csv").read_text().splitlines()]
    assert strip == again


def test_resume_refuses_another_network(runs, data):
    from agreement.errors import InputError

    other = tiny_config(network="segresnet", network_kwargs={"init_filters": 4})
    parent = runs[0].parent
    (parent / other.run_name).mkdir(exist_ok=True)
    (parent / other.run_name / "config.json").write_text(
        (runs[0] / "config.json").read_text()  # a unet run's config in a segresnet folder
    )
    with pytest.raises(InputError, match="network='unet', not 'segresnet'"):
        training.train(other, data, parent, resume=True, progress=False)


def _load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    img = nib.load(str(path))
    return np.asanyarray(img.dataobj), img.affine


def test_predict_each_method_and_measure(runs, data, tmp_path):
    from agreement.measures.cohort import measure_cohort

    images, labels = data / "imagesTr", data / "labelsTr"
    singles = []
    for k, run in enumerate(runs):
        out = predict([run], images, tmp_path / f"fold{k}", progress=False)
        singles.append(out / "unet" / "dice_ce")
    for case in sorted(p.name for p in labels.iterdir()):
        ref, ref_affine = _load(labels / case)
        pred, affine = _load(singles[0] / case)
        assert pred.dtype == np.uint8 and pred.shape == ref.shape
        np.testing.assert_allclose(affine, ref_affine)
        assert set(np.unique(pred)) <= {0, 1}

    outs = {}
    for method in ("majority", "mean", "weighted"):
        outs[method] = predict(
            runs,
            images,
            tmp_path / method,
            ensemble=method,
            save_probabilities=True,
            progress=False,
        )
        manifest = json.loads((outs[method] / "predict.json").read_text())
        entry = manifest["methods"]["unet/dice_ce"]
        assert entry["folds"] == [0, 1] and manifest["ensemble"] == method
        assert (manifest["overlap"], manifest["mode"]) == (0.5, "gaussian")

    # The weights are the folds' best validation Dice, as logged by training.
    weights = json.loads((outs["weighted"] / "predict.json").read_text())["methods"]
    best = [_state(r / "best.pt")["best_metric"] for r in runs]
    assert weights["unet/dice_ce"]["weights"] == pytest.approx(best)

    for case in sorted(p.name for p in labels.iterdir()):
        a, b = (_load(s / case)[0] for s in singles)
        # Two runs: strictly more than half means both (an independent rule on the single runs).
        maj = _load(outs["majority"] / "unet" / "dice_ce" / case)[0]
        np.testing.assert_array_equal(maj, a & b)
        stem = case.removesuffix(".nii.gz")
        mean_file = outs["mean"] / "unet" / "dice_ce" / f"{stem}_probabilities.npz"
        with np.load(mean_file) as npz:
            probs = npz["probabilities"]
        assert probs.shape == (2, *a.shape)
        np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-5)
        mean = _load(outs["mean"] / "unet" / "dice_ce" / case)[0]
        np.testing.assert_array_equal(mean, probs.argmax(0))

    result = measure_cohort(outs["majority"], labels, images, progress=False, workers=1)
    assert len(result.failed) == 0
    assert set(result.cases["method"]) == {"unet/dice_ce"}
    assert result.cases["case_id"].nunique() == 6


def test_predict_resume_skips_finished_cases(runs, data, tmp_path):
    out = predict([runs[0]], data / "imagesTr", tmp_path, progress=False)
    folder = out / "unet" / "dice_ce"
    files = sorted(folder.glob("*.nii.gz"))
    stamps = {f.name: f.stat().st_mtime_ns for f in files}
    files[0].unlink()
    predict([runs[0]], data / "imagesTr", tmp_path, resume=True, progress=False)
    assert files[0].is_file()
    for f in files[1:]:
        assert f.stat().st_mtime_ns == stamps[f.name]


def test_two_runs_of_one_pair_need_ensemble(runs, data, tmp_path):
    from agreement.errors import InputError

    with pytest.raises(InputError, match="pass --ensemble"):
        predict(runs, data / "imagesTr", tmp_path, progress=False)


def test_inverse_mapping_is_exact_on_the_training_grid(tmp_path):
    # Phantoms on a 4 mm grid preprocessed at 4 mm: only orientation and the body crop remain,
    # so the label mapped back to the original grid must equal the file's label voxel by voxel.
    from segengine.data.transforms import val_transforms
    from segengine.training import data_config

    ph = make_phantoms(
        tmp_path / "ph",
        2,
        seed=5,
        shape=(20, 22, 24),
        spacing=(4.0, 4.0, 4.0),
        folds=2,
        negative_fraction=0.0,
        progress=False,
    )
    tf = val_transforms(data_config(tiny_config()))
    for case in ("PSMA_0000", "PSMA_0001"):
        item = tf(
            {
                "ct": str(ph / "imagesTr" / f"{case}_0000.nii.gz"),
                "pet": str(ph / "imagesTr" / f"{case}_0001.nii.gz"),
                "label": str(ph / "labelsTr" / f"{case}.nii.gz"),
            }
        )
        label = item["label"]
        from monai.data import MetaTensor

        plain = label.as_tensor().float()
        onehot = MetaTensor(torch.cat([1 - plain, plain]), affine=item["image"].affine)
        ref, affine = _load(ph / "labelsTr" / f"{case}.nii.gz")
        back = to_original_grid(onehot, affine, ref.shape).argmax(0)
        # The crop box in original voxels, from the two (diagonal, 4 mm, RAS) affines.
        start = np.rint((item["image"].affine[:3, 3].numpy() - affine[:3, 3]) / 4.0).astype(int)
        box = tuple(slice(a, a + n) for a, n in zip(start, label.shape[1:], strict=True))
        inside = np.zeros(ref.shape, dtype=bool)
        inside[box] = True
        assert ref[inside].sum() > 0
        np.testing.assert_array_equal(back[inside], ref[inside])
        assert not back[~inside].any()  # outside the network's field of view: background


def test_splits_are_made_and_saved_when_the_data_has_none(data, tmp_path):
    import shutil

    copy = Path(shutil.copytree(data, tmp_path / "data"))
    (copy / "splits_final.json").unlink()
    config = tiny_config(n_folds=3, fold=2, epochs=1, steps_per_epoch=1)
    run = training.train(config, copy, tmp_path / "runs", progress=False)
    splits = json.loads((run / "splits.json").read_text())
    cases = sorted(f"PSMA_{i:04d}" for i in range(6))
    assert len(splits) == 3
    assert sorted(c for s in splits for c in s["val"]) == cases  # the val folds partition
    for s in splits:
        assert sorted(s["train"] + s["val"]) == cases and not set(s["train"]) & set(s["val"])
    assert splits == training.make_splits(cases, 3, config.seed)
