"""`segengine train` / `segengine predict`: user errors exit 2 with one line; a tiny full run."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")
yaml = pytest.importorskip("yaml")

from click.testing import CliRunner  # noqa: E402

from segengine.cli import segengine  # noqa: E402
from segengine.config import TrainConfig  # noqa: E402
from segengine.data.phantoms import make_phantoms  # noqa: E402
from segengine.networks import build_network  # noqa: E402

pytestmark = pytest.mark.engine

TINY = {"channels": [4, 8, 16], "strides": [2, 2], "num_res_units": 0}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    return make_phantoms(root / "ph", 4, seed=2, shape=(24, 24, 32), folds=2, progress=False)


def _run(*args: str):
    return CliRunner().invoke(segengine, [str(a) for a in args])


def _one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    text = result.output.strip()
    assert "Traceback" not in text
    assert len(text.splitlines()) == 1, text
    for needle in needles:
        assert needle in text, text


def test_unknown_network_suggests(data, tmp_path):
    result = _run(
        "train", data, "--network", "segresnt", "--loss", "dice", "--fold", "0", "-o", tmp_path
    )
    _one_line_error(result, "unknown network 'segresnt'", "did you mean 'segresnet'")


def test_unknown_loss_suggests(data, tmp_path):
    result = _run(
        "train", data, "--network", "unet", "--loss", "l1dfll", "--fold", "0", "-o", tmp_path
    )
    _one_line_error(result, "unknown loss 'l1dfll'", "did you mean 'l1dfl'")


def test_missing_data_folder(tmp_path):
    result = _run(
        "train",
        tmp_path / "nope",
        "--network",
        "unet",
        "--loss",
        "dice",
        "--fold",
        "0",
        "-o",
        tmp_path,
    )
    _one_line_error(result, "nope: data folder not found")


def test_bad_config_key(data, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("epochz: 3\n")
    result = _run(
        "train", data, "--network", "unet", "--loss", "dice", "--config", config, "-o", tmp_path
    )
    _one_line_error(result, "c.yaml", "unknown configuration keys ['epochz']")


def _fake_run(folder, config_network: str, weights_network: str, *, with_config: bool):
    folder.mkdir(parents=True)
    kwargs = TINY if config_network == "unet" else {"init_filters": 4}
    TrainConfig(network=config_network, loss="dice", network_kwargs=kwargs).save(
        folder / "config.json"
    )
    w_kwargs = TINY if weights_network == "unet" else {"init_filters": 4}
    state = {"model": build_network(weights_network, **w_kwargs).state_dict(), "best_metric": 0.5}
    if with_config:
        state["config"] = TrainConfig(network=weights_network, network_kwargs=w_kwargs).to_dict()
    torch.save(state, folder / "best.pt")
    return folder


@pytest.mark.parametrize("with_config", [True, False])
def test_predict_run_folder_from_another_network(data, tmp_path, with_config):
    run = _fake_run(tmp_path / "run", "segresnet", "unet", with_config=with_config)
    result = _run("predict", run, "--images", data / "imagesTr", "-o", tmp_path / "pred")
    needle = "checkpoint of network 'unet'" if with_config else "weights do not fit network"
    _one_line_error(result, "best.pt", needle)


def test_predict_not_a_run_folder(data, tmp_path):
    result = _run("predict", tmp_path, "--images", data / "imagesTr", "-o", tmp_path / "p")
    _one_line_error(result, "not a run folder")


def test_predict_report_needs_reference(data, tmp_path):
    result = _run(
        "predict",
        tmp_path,
        "--images",
        data / "imagesTr",
        "-o",
        tmp_path / "p",
        "--report",
        tmp_path / "r",
    )
    _one_line_error(result, "--report: needs --reference")


def test_train_then_predict_with_report(data, tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "epochs": 1,
                "batch_size": 2,
                "patch_size": [16, 16, 16],
                "spacing": 4.0,
                "steps_per_epoch": 1,
                "network_kwargs": TINY,
            }
        )
    )
    result = _run(
        "train",
        data,
        "--network",
        "UNet",
        "--loss",
        "dice-ce",
        "--fold",
        "0",
        "--config",
        config,
        "--epochs",
        "2",
        "-o",
        tmp_path / "runs",
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "unet-dice_ce-fold0"
    saved = json.loads((run / "config.json").read_text())
    assert saved["epochs"] == 2 and saved["network"] == "unet" and saved["loss"] == "dice_ce"

    # Running it again without --resume is refused; with --resume a finished run is a no-op.
    _one_line_error(
        _run(
            "train",
            data,
            "--network",
            "unet",
            "--loss",
            "dice_ce",
            "--config",
            config,
            "--epochs",
            "2",
            "-o",
            tmp_path / "runs",
        ),
        "pass --resume",
    )
    ok = _run(
        "train",
        data,
        "--network",
        "unet",
        "--loss",
        "dice_ce",
        "--config",
        config,
        "--epochs",
        "2",
        "-o",
        tmp_path / "runs",
        "--resume",
        "--no-progress",
    )
    assert ok.exit_code == 0, ok.output

    from segengine.cli import segengine as group

    result = CliRunner().invoke(
        group,
        [
            "predict",
            str(run),
            "--images",
            str(data / "imagesTr"),
            "-o",
            str(tmp_path / "pred"),
            "--report",
            str(tmp_path / "report"),
            "--reference",
            str(data / "labelsTr"),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "pred" / "unet" / "dice_ce" / "PSMA_0000.nii.gz").is_file()
    assert (tmp_path / "report" / "index.html").is_file()
    assert (tmp_path / "report" / "measurements.csv").is_file()


def test_preset_over_config_file_and_flags_over_preset(data, tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({"network_kwargs": TINY, "val_interval": 3}))
    result = _run(
        "train", data, "--network", "unet", "--loss", "dice", "--config", config,
        "--preset", "cpu-quick", "--epochs", "1", "--steps-per-epoch", "1", "--patch-size", "16",
        "--deterministic", "--workers", "0", "--device", "cpu", "-o", tmp_path / "runs",
        "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "runs" / "unet-dice-fold0" / "config.json").read_text())
    # from the preset: spacing, validation period (over the file's 3); from the flags: the rest
    assert (saved["spacing"], saved["val_interval"], saved["batch_size"]) == (4.0, 5, 2)
    assert (saved["epochs"], saved["steps_per_epoch"], saved["patch_size"]) == (1, 1, [16] * 3)
    assert saved["deterministic"] is True and saved["compile"] is False
    assert saved["network_kwargs"]["channels"] == TINY["channels"]
