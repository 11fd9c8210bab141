"""What a GPU run needs, checked on CPU: cross-device resume, seeded loader, device affine,
validation score, numerics switches, CPU run-time warning (issue 14)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from segengine import training  # noqa: E402
from segengine.accel import configure_numerics, plain  # noqa: E402
from segengine.augment import affine_matrices, random_affine  # noqa: E402
from segengine.loader import SeededSampler, make_loader  # noqa: E402

pytestmark = pytest.mark.engine


def _tiny_model():
    return torch.nn.Sequential(torch.nn.Conv3d(1, 2, 3), torch.nn.BatchNorm3d(2))


def _parts(model, enabled_scaler):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    return opt, sched, torch.amp.GradScaler("cpu", enabled=enabled_scaler)


def _checkpoint(scaler_enabled: bool) -> dict:
    torch.manual_seed(0)
    model = _tiny_model()
    opt, sched, scaler = _parts(model, scaler_enabled)
    loss = model(torch.rand(2, 1, 5, 5, 5)).square().mean()
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    sched.step()
    return {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": training.rng_state(),
        "epoch": 1,
        "best_metric": 0.5,
        "best_epoch": 1,
    }


def test_empty_scaler_state_resumes_into_an_fp16_scaler():
    # A CPU (or bf16) run saves a disabled scaler's state {}; GradScaler refuses to load it.
    state = _checkpoint(scaler_enabled=False)
    assert state["scaler"] == {}
    with pytest.raises(RuntimeError):
        torch.amp.GradScaler("cpu", enabled=True).load_state_dict(state["scaler"])
    model = _tiny_model()
    opt, sched, scaler = _parts(model, enabled_scaler=True)  # the fp16 run that resumes it
    assert training.restore(state, model, opt, sched, scaler) == (1, 0.5, 1)
    assert scaler.get_scale() == torch.amp.GradScaler("cpu").get_scale()  # a fresh scale
    for k, v in state["model"].items():
        assert torch.equal(model.state_dict()[k], v)
    assert sched.last_epoch == 1


def test_saved_scale_is_restored_and_ignored_by_a_disabled_scaler():
    state = _checkpoint(scaler_enabled=True)
    model = _tiny_model()
    opt, sched, scaler = _parts(model, enabled_scaler=True)
    training.restore(state, model, opt, sched, scaler)
    assert scaler.state_dict()["scale"] == state["scaler"]["scale"]
    model = _tiny_model()
    opt, sched, off = _parts(model, enabled_scaler=False)  # an fp16 run resumed on CPU / bf16
    training.restore(state, model, opt, sched, off)
    assert off.state_dict() == {}


def test_rng_states_restore_from_a_checkpoint_of_a_gpu_machine(tmp_path):
    # A CUDA run saves one ByteTensor per GPU; on a machine without CUDA they are skipped and
    # the CPU states are restored whatever device the tensors were loaded to.
    state = training.rng_state()
    state["cuda"] = [torch.get_rng_state().clone(), torch.get_rng_state().clone()]
    path = tmp_path / "last.pt"
    torch.save({"rng": state}, path)
    expected = (np.random.random(), torch.rand(3))  # noqa: NPY002
    loaded = training.load_checkpoint(path)
    training.set_rng_state(loaded["rng"])
    assert np.random.random() == expected[0]  # noqa: NPY002
    assert torch.equal(torch.rand(3), expected[1])


def test_resume_reads_the_checkpoint_on_cpu_and_continues_with_an_fp16_scaler(
    tmp_path, monkeypatch
):
    # Emulates a run started on CPU (scaler state {}) resumed on a GPU without bf16 (fp16 +
    # GradScaler): the checkpoint must be read with map_location="cpu" (set_rng_state needs
    # CPU tensors) and the empty scaler state accepted.
    from segengine.config import TrainConfig
    from segengine.data.phantoms import make_phantoms

    class Killed(Exception):
        pass

    data = make_phantoms(tmp_path / "ph", 4, seed=1, shape=(24, 24, 32), folds=2, progress=False)
    tiny = {"channels": (4, 8), "strides": (2,), "num_res_units": 0}
    config = TrainConfig(epochs=2, val_interval=1, patch_size=(16,) * 3, spacing=4.0,
                         steps_per_epoch=2, num_workers=0, network_kwargs=tiny)  # fmt: skip
    real_save = training._save

    def save_then_die(path, state):
        real_save(path, state)
        if path.name == "last.pt" and state["epoch"] == 1:
            raise Killed

    monkeypatch.setattr(training, "_save", save_then_die)
    with pytest.raises(Killed):
        training.train(config, data, tmp_path / "runs", progress=False, device="cpu")
    monkeypatch.setattr(training, "_save", real_save)

    locations = []
    real_load = training.load_checkpoint

    def recording_load(path, map_location="cpu"):
        locations.append(map_location)
        return real_load(path, map_location=map_location)

    monkeypatch.setattr(training, "load_checkpoint", recording_load)
    monkeypatch.setattr(training, "_scaler", lambda dev, dtype: torch.amp.GradScaler("cpu"))
    run = training.train(config, data, tmp_path / "runs", resume=True, progress=False)
    assert locations[0] == "cpu"
    state = torch.load(run / "last.pt", weights_only=True)
    assert state["epoch"] == 2 and state["scaler"]["scale"] > 0


def test_sampler_draws_do_not_depend_on_the_number_of_ranks():
    one = SeededSampler(6, seed=3)
    two = [SeededSampler(6, seed=3, rank=r, world=2) for r in (0, 1)]
    for s in (one, *two):
        s.set_epoch(4)
    assert sorted(one) == sorted(list(two[0]) + list(two[1]))
    assert sorted(i for i, _ in one) == list(range(6))  # one epoch: each case once
    one.set_epoch(5)
    assert list(one) != list(SeededSampler(6, seed=3))  # another epoch, another order
    more = SeededSampler(4, seed=0, samples=10)
    assert len(list(more)) == 10 and np.bincount([i for i, _ in more]).min() >= 2


def test_loader_batches_are_the_same_with_and_without_workers():
    # Persistent workers keep their RNG between epochs; the per-sample seeds make the
    # augmentation independent of them (and of a resume).
    from monai.data import Dataset
    from monai.transforms import Compose, RandGaussianNoised

    items = [{"x": torch.full((1, 4, 4, 4), float(i))} for i in range(5)]
    ds = Dataset(items, Compose([RandGaussianNoised(keys="x", prob=1.0)]))

    def epochs(workers: int) -> list[torch.Tensor]:
        loader, sampler = make_loader(ds, batch_size=2, seed=7, num_workers=workers)
        out = []
        for epoch in (0, 1, 0):
            sampler.set_epoch(epoch)
            out += [plain(b["x"]) for b in loader]
        return out

    no_workers, workers = epochs(0), epochs(2)
    assert len(no_workers) == 9
    for a, b in zip(no_workers, workers, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(torch.cat(no_workers[:3]), torch.cat(no_workers[6:]))  # epoch 0 again
    assert not torch.equal(torch.cat(no_workers[:3]), torch.cat(no_workers[3:6]))


def _ramp(axis: int, size=(12, 12, 12)) -> torch.Tensor:
    shape = [1, 1, 1]
    shape[axis] = size[axis]
    r = torch.arange(size[axis], dtype=torch.float32).reshape(shape).expand(size)
    return r[None, None].clone()


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_translation_moves_each_tensor_axis_by_the_drawn_voxels(axis):
    # Bilinear interpolation of a linear ramp is exact, so inside the volume the output minus
    # the ramp is the shift along that axis: out[k] = in[k + t] (the sampling grid's shift).
    kw = {"translate": 2.0, "rotate": (0.0, 0.0, 0.0), "scale": 0.0}
    ramp = _ramp(axis)
    mats = affine_matrices(1, ramp.shape[2:], generator=torch.Generator().manual_seed(1), **kw)
    t = float(mats[0, 2 - axis, 3]) * ramp.shape[2 + axis] / 2  # normalised -> voxels
    out, _ = random_affine(ramp, torch.zeros_like(ramp), generator=torch.Generator().manual_seed(1), **kw)
    inner = (slice(None), slice(None)) + (slice(3, -3),) * 3
    np.testing.assert_allclose((out - ramp)[inner].numpy(), t, atol=1e-4)
    assert abs(t) > 0.05


def test_rotation_about_an_axis_keeps_that_axis_coordinate():
    kw = {"translate": 0.0, "rotate": (0.5, 0.0, 0.0), "scale": 0.0}
    inner = (slice(None), slice(None)) + (slice(4, -4),) * 3
    outs = []
    for axis in (0, 1):
        ramp = _ramp(axis)
        out, _ = random_affine(ramp, ramp, generator=torch.Generator().manual_seed(2), **kw)
        outs.append((out - ramp)[inner].abs().max().item())
    assert outs[0] < 1e-4 and outs[1] > 0.1  # axis 0 unchanged, axis 1 turned


def test_device_affine_keeps_labels_and_identity_when_not_drawn():
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(3, 2, 10, 10, 10)
    label = (torch.rand(3, 1, 10, 10, 10) > 0.7).to(torch.uint8)
    out, lab = random_affine(image, label, generator=gen, prob=0.0)
    torch.testing.assert_close(out, image, atol=1e-5, rtol=0)
    assert torch.equal(lab, label)
    out, lab = random_affine(image, label, generator=gen)
    assert lab.dtype == torch.uint8 and set(lab.unique().tolist()) <= {0, 1}
    assert not torch.allclose(out, image)


def test_case_scores_count_false_positives_on_negative_cases():
    from segengine.training import case_scores

    empty = np.zeros((6, 6, 6), bool)
    fp = empty.copy()
    fp[0, 0, 0:2] = True  # one 2-voxel component
    ref = empty.copy()
    ref[4, 4, 3:5] = True
    assert case_scores(empty, empty, 2.0) == {"dice": 1.0, "fpv": 0.0, "fnv": 0.0}
    assert case_scores(fp, empty, 2.0) == {"dice": 0.0, "fpv": 0.016, "fnv": 0.0}
    # by hand: |P| = 2, |G| = 2, overlap 0 -> DSC 0; FP component 2 voxels of 8 mm³
    both = fp | ref
    s = case_scores(both, ref, (2.0, 2.0, 2.0))
    assert s["dice"] == pytest.approx(2 * 2 / (4 + 2)) and s["fpv"] == pytest.approx(0.016)
    assert case_scores(empty, ref, 2.0) == {"dice": 0.0, "fpv": 0.0, "fnv": 0.016}


def test_deterministic_switch_sets_and_clears_torch_flags():
    try:
        assert "deterministic" in configure_numerics(torch.device("cpu"), deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        configure_numerics(torch.device("cpu"), deterministic=False)
    assert not torch.are_deterministic_algorithms_enabled()


def test_long_cpu_run_warns_and_names_the_preset(capsys):
    training._warn_if_long(4 * 3600.0, 2.5, torch.device("cpu"))
    err = capsys.readouterr().err
    assert "warning" in err and "4.0 h" in err and "--preset cpu-quick" in err
    assert "2.5 s per epoch" in err
    training._warn_if_long(600.0, 0.1, torch.device("cpu"))
    err = capsys.readouterr().err
    assert "warning" not in err and "0.2 h" in err
    training._warn_if_long(600.0, 0.1, torch.device("cpu"), quiet=True)
    assert capsys.readouterr().err == ""
    training._warn_if_long(4 * 3600.0, 2.5, torch.device("cpu"), quiet=True)
    assert "warning" in capsys.readouterr().err


def test_cpu_quick_preset_is_a_valid_small_config():
    from segengine.config import PRESETS, TrainConfig

    cfg = TrainConfig().replace(**PRESETS["cpu-quick"])
    assert cfg.patch_size == (32, 32, 32) and cfg.epochs * cfg.steps_per_epoch <= 100
    assert math.prod(cfg.patch_size) * 64 == math.prod(TrainConfig().patch_size)


def test_node_cache_gives_the_cache_datasets_items(tmp_path):
    # Under torchrun the cohort is cached once per node (memory-mapped torch files); with the
    # same per-sample seeds its patches must equal CacheDataset's.
    from segengine.data.io import datalist
    from segengine.data.phantoms import make_phantoms
    from segengine.data.transforms import DataConfig, make_dataset, train_transforms
    from segengine.loader import NodeCacheDataset, SeededDataset

    data = make_phantoms(tmp_path / "ph", 2, seed=4, shape=(24, 24, 32), folds=2, progress=False)
    files = datalist(data)
    config = DataConfig(spacing=(4.0,) * 3, patch_size=(16,) * 3)
    calls = []
    node = NodeCacheDataset(files, train_transforms(config), tmp_path / "cache",
                            barrier=lambda: calls.append("barrier"))  # fmt: skip
    assert calls == ["barrier"] and len(list((tmp_path / "cache").glob("*.pt"))) == 2
    reader = NodeCacheDataset(files, train_transforms(config), tmp_path / "cache", writer=False)
    cached = make_dataset(files, train_transforms(config), cache="memory")
    for i in range(2):
        for seed in (1, 2):
            a, b, c = (SeededDataset(d)[(i, seed)][0] for d in (node, reader, cached))
            for key in ("image", "label"):
                assert torch.equal(plain(a[key]), plain(c[key]))
                assert torch.equal(plain(b[key]), plain(c[key]))


def test_gpu_code_paths_run_on_cpu(tmp_path):
    # The CUDA defaults forced on CPU: batch affine on the device, channels-last-3d,
    # deterministic algorithms, bf16 validation; the log carries the FP/FN volumes.
    import csv

    from segengine.config import TrainConfig
    from segengine.data.phantoms import make_phantoms

    data = make_phantoms(tmp_path / "ph", 4, seed=6, shape=(24, 24, 32), folds=2, progress=False)
    tiny = {"channels": (4, 8), "strides": (2,), "num_res_units": 0}
    config = TrainConfig(epochs=1, patch_size=(16,) * 3, spacing=4.0, steps_per_epoch=2,
                         num_workers=0, network_kwargs=tiny, gpu_augment=True,
                         channels_last=True, deterministic=True)  # fmt: skip
    try:
        run = training.train(config, data, tmp_path / "runs", progress=False, device="cpu")
    finally:
        configure_numerics(torch.device("cpu"), deterministic=False)
    with (run / "log.csv").open() as fh:
        (row,) = list(csv.DictReader(fh))
    assert float(row["val_fpv_ml"]) >= 0 and float(row["val_fnv_ml"]) >= 0
    assert 0 <= float(row["val_dice"]) <= 1

    from segengine.data.io import datalist
    from segengine.data.transforms import make_dataset, val_transforms
    from segengine.networks import build_network

    model = build_network("unet", **tiny)
    ds = make_dataset(datalist(data)[:2], val_transforms(training.data_config(config)), cache=None)
    scores = training.validate(model, ds, config, torch.device("cpu"), dtype=torch.bfloat16)
    assert scores["n"] == 2 and 0 <= scores["dice"] <= 1
