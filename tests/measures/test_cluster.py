"""Per-case work on a Dask cluster (--scheduler), the --workers default rule, agree merge formats.

The cluster is a small in-process LocalCluster (threads, no worker processes) so that the tests
stay fast on two cores; the tables must equal those of a serial run exactly.
"""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from agreement.cli import agree
from agreement.errors import InputError
from agreement.measures import cluster
from agreement.measures.cohort import measure_cohort

distributed = pytest.importorskip("distributed")


def _run(*args):
    return CliRunner().invoke(agree, [str(a) for a in args])


def _measure(paths, out, *extra):
    return _run("measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                "-o", out, "--no-progress", *extra)  # fmt: skip


@pytest.fixture(scope="module")
def local_cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as lc:
        yield lc


def test_scheduler_gives_the_serial_tables(tmp_path, nifti, local_cluster):
    paths = nifti.cohort(tmp_path, cases=("c1", "c2", "c3"), methods=("a", "b"))
    assert _measure(paths, tmp_path / "serial", "-j", "1").exit_code == 0
    res = _measure(paths, tmp_path / "dask", "--scheduler", local_cluster.scheduler_address)
    assert res.exit_code == 0, res.output
    for name in ("measurements", "cases", "lesions"):
        pd.testing.assert_frame_equal(
            pd.read_csv(tmp_path / "serial" / f"{name}.csv"),
            pd.read_csv(tmp_path / "dask" / f"{name}.csv"),
        )


def test_scheduler_accepts_a_client_and_lists_failures(tmp_path, nifti, local_cluster):
    paths = nifti.cohort(tmp_path, cases=("c1", "c2"))
    (paths["pred"] / "unet" / "c2.nii.gz").write_bytes(b"not a nifti")
    with distributed.Client(local_cluster, set_as_default=False) as client:
        res = measure_cohort(paths["pred"], paths["ref"], paths["pet"], scheduler=client,
                             progress=False)  # fmt: skip
        assert client.status == "running"  # the caller's client is left open
    assert res.cases["case_id"].tolist() == ["c1"]
    assert res.failed["case_id"].tolist() == ["c2"]
    assert "not a readable NIfTI file" in res.failed["reason"].iloc[0]


def test_workers_and_scheduler_exclude_each_other(tmp_path, nifti):
    paths = nifti.cohort(tmp_path, cases=("c1",))
    res = _measure(paths, tmp_path / "out", "-j", "2", "--scheduler", "tcp://127.0.0.1:1")
    assert res.exit_code == 2 and "--workers and --scheduler exclude each other" in res.output
    with pytest.raises(ValueError, match="not both"):
        measure_cohort(paths["pred"], paths["ref"], paths["pet"], workers=2, scheduler="x")


def test_unreachable_scheduler_is_one_line(tmp_path, nifti):
    import dask

    paths = nifti.cohort(tmp_path, cases=("c1",))
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        res = _measure(paths, tmp_path / "out", "--scheduler", "tcp://127.0.0.1:9")
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: tcp://127.0.0.1:9: no Dask scheduler")
    assert not (tmp_path / "out").exists()


def test_missing_dask_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(InputError, match=r"pip install 'pet-agreement\[dask\]'"):
        with cluster.dask_backend("tcp://127.0.0.1:9"):
            pass


def test_workers_default_rule(monkeypatch):
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "8")
    big = cluster.SERIAL_BELOW_BYTES
    assert cluster.auto_workers(100, big - 1) == 1  # small inputs: one process
    assert cluster.auto_workers(1, 100 * big) == 1  # one case
    assert cluster.auto_workers(100, big) == 8
    assert cluster.auto_workers(3, 100 * big) == 3  # never more workers than cases


def test_merge_reads_parquet_shards_without_format(tmp_path, nifti):
    paths = nifti.cohort(tmp_path, cases=("c1", "c2", "c3"))
    for k in range(2):
        res = _measure(paths, tmp_path / f"s{k}", "-j", "1", "--shard", f"{k}/2",
                       "--format", "parquet")  # fmt: skip
        assert res.exit_code == 0, res.output
    assert _measure(paths, tmp_path / "full", "-j", "1").exit_code == 0
    res = _run("merge", tmp_path / "s0", tmp_path / "s1", "-o", tmp_path / "merged")
    assert res.exit_code == 0, res.output
    merged = pd.read_parquet(tmp_path / "merged" / "cases.parquet")
    pd.testing.assert_frame_equal(merged, pd.read_csv(tmp_path / "full" / "cases.csv"),
                                  check_dtype=False)  # fmt: skip
    res = _run("merge", tmp_path / "s0", tmp_path / "s1", "-o", tmp_path / "csv", "--format",
               "csv")  # fmt: skip
    assert res.exit_code == 0 and (tmp_path / "csv" / "cases.csv").is_file()
    (tmp_path / "s1" / "measurements.csv").write_text("case_id\n")
    res = _run("merge", tmp_path / "s1", tmp_path / "s0", "-o", tmp_path / "both")
    assert res.exit_code == 2 and "both CSV and Parquet tables; pass --format" in res.output
