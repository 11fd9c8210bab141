"""DistributedDataParallel under torchrun: 2 CPU processes with the gloo backend, tiny data."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")
yaml = pytest.importorskip("yaml")

from segengine.data.phantoms import make_phantoms  # noqa: E402

pytestmark = pytest.mark.engine


def test_torchrun_two_processes_gloo(tmp_path):
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available")
    data = make_phantoms(tmp_path / "ph", 4, seed=1, shape=(24, 24, 32), folds=2, progress=False)
    config = tmp_path / "tiny.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "epochs": 2,
                "val_interval": 1,
                "batch_size": 1,
                "patch_size": [16, 16, 16],
                "spacing": 4.0,
                "steps_per_epoch": 2,
                "network_kwargs": {"channels": [4, 8, 16], "strides": [2, 2], "num_res_units": 0},
            }
        )
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "segengine.cli",
        "train",
        str(data),
        "--network",
        "unet",
        "--loss",
        "dice",
        "--fold",
        "1",
        "--config",
        str(config),
        "-o",
        str(tmp_path / "runs"),
        "--device",
        "cpu",
        "--no-progress",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    run = tmp_path / "runs" / "unet-dice-fold1"
    state = torch.load(run / "last.pt", weights_only=True)
    assert state["world_size"] == 2
    assert state["epoch"] == 2
    assert state["config"]["network_kwargs"]["channels"] == [4, 8, 16]
    # Rank 0 alone writes: one log with one row per epoch, no duplicate rows.
    rows = (run / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2"]
    # Weights are plain (no DDP "module." prefix), so predict loads them into the bare network.
    assert not any(k.startswith("module.") for k in state["model"])
    # The memory cache was kept once for the node: one file per case of the fold (2 + 2).
    assert len(list((run / "cache" / "node").glob("*.pt"))) == 4

    # Prediction under torchrun: the cases are split over the 2 ranks, rank 0 writes the manifest.
    pred = tmp_path / "pred"
    cmd = [
        *cmd[:5],
        "-m",
        "segengine.cli",
        "predict",
        str(run),
        "--images",
        str(data / "imagesTr"),
        "-o",
        str(pred),
        "--device",
        "cpu",
        "--no-progress",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    masks = sorted(p.name for p in (pred / "unet" / "dice").glob("*.nii.gz"))
    assert masks == sorted(p.name for p in (data / "labelsTr").glob("*.nii.gz"))
    assert json.loads((pred / "predict.json").read_text())["methods"]["unet/dice"]["folds"] == [1]
