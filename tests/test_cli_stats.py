"""``agree stats``: exit codes and one-line errors (click CliRunner)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from agreement.cli import agree
from agreement.stats.table import COLUMNS


@pytest.fixture
def measurements(tmp_path):
    rng = np.random.default_rng(0)
    ref = rng.uniform(1, 20, 10)
    df = pd.DataFrame({"case_id": [f"c{i}" for i in range(10)], "method": "unet/dice",
                       "metric": "suv_max", "reference": ref, "predicted": ref * 1.05})  # fmt: skip
    path = tmp_path / "measurements.csv"
    df.to_csv(path, index=False)
    return path


def _run(*args):
    return CliRunner().invoke(agree, ["stats", *map(str, args)])


def test_writes_agreement_table(measurements, tmp_path):
    out = tmp_path / "agreement.csv"
    res = _run(measurements, "-o", out, "--n-resamples", "50", "--margin", "0.1", "--seed", "1")
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    assert list(table.columns) == COLUMNS and len(table) == 1
    assert table.loc[0, "tost_upper"] == pytest.approx(0.1 * table.loc[0, "mean_reference"])
    assert not np.isnan(table.loc[0, "tdi_ci_high"])


def test_refuses_existing_output_unless_overwrite(measurements, tmp_path):
    out = tmp_path / "agreement.csv"
    out.write_text("old")
    res = _run(measurements, "-o", out)
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        f"Error: {out}: output file exists; pass --overwrite to replace it"
    ]
    assert out.read_text() == "old"
    assert _run(measurements, "-o", out, "--overwrite").exit_code == 0


def test_user_errors_exit_2_with_one_line(tmp_path, measurements):
    res = _run(tmp_path / "missing.csv", "-o", tmp_path / "a.csv")
    assert res.exit_code == 2 and res.output.strip().splitlines() == [
        f"Error: {tmp_path / 'missing.csv'}: file not found"
    ]
    bad = tmp_path / "bad.csv"
    pd.read_csv(measurements).drop(columns=["predicted"]).to_csv(bad, index=False)
    res = _run(bad, "-o", tmp_path / "a.csv")
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1
    assert "bad.csv: missing column(s) 'predicted'" in res.output
    res = _run(measurements, "-o", tmp_path / "a.xlsx")
    assert res.exit_code == 2 and "unknown table extension" in res.output
    assert not (tmp_path / "a.csv").exists()


def test_bad_option_values_exit_2(measurements, tmp_path):
    for args in (["--alpha", "0.7"], ["--n-resamples", "-1"], ["--margin", "0"]):
        res = _run(measurements, "-o", tmp_path / "a.csv", *args)
        assert res.exit_code == 2


def test_unpaired_warning_goes_to_stderr(tmp_path):
    df = pd.DataFrame({"case_id": ["a", "b", "c", "a", "b"], "method": ["m1"] * 3 + ["m2"] * 2,
                       "metric": "tmtv", "reference": [1.0, 2.0, 3.0, 1.0, 2.0],
                       "predicted": [1.1, 2.2, 2.9, 1.0, 2.1]})  # fmt: skip
    path = tmp_path / "m.csv"
    df.to_csv(path, index=False)
    res = CliRunner().invoke(agree, ["stats", str(path), "-o", str(tmp_path / "a.csv")])
    assert res.exit_code == 0
    assert "warning:" in res.stderr and "'m2' lacks 1 case(s)" in res.stderr


def test_help_shows_examples():
    res = CliRunner().invoke(agree, ["stats", "--help"])
    assert res.exit_code == 0
    assert "agree stats tables/measurements.csv -o agreement.csv" in res.output
    assert "--n-resamples" in res.output and "--tdi-p" in res.output


def test_infinite_value_exit_2_one_line(tmp_path, measurements):
    # review: inf reached the statistics and ended in a ValueError traceback (exit 1)
    bad = tmp_path / "inf.csv"
    df = pd.read_csv(measurements)
    df.loc[2, "predicted"] = np.inf
    df.to_csv(bad, index=False)
    res = _run(bad, "-o", tmp_path / "a.csv")
    assert res.exit_code == 2, res.output
    assert res.output.strip().splitlines() == [
        f"Error: {bad}: infinite reference/predicted value in row 3 (case_id=c2)"
    ]
    assert not (tmp_path / "a.csv").exists()


def test_folders_instead_of_files_exit_2_one_line(tmp_path, measurements):
    # review: click printed a three-line usage error for a folder given as MEASUREMENTS or -o
    folder = tmp_path / "tables.csv"
    folder.mkdir()
    res = _run(folder, "-o", tmp_path / "a.csv")
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [f"Error: {folder}: is a folder, not a table file"]
    res = _run(measurements, "-o", folder)
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1
    assert f"{folder}: is a folder" in res.output


def test_negative_seed_is_a_usage_error(measurements, tmp_path):
    # review: --seed -1 ended in numpy's ValueError traceback
    res = _run(measurements, "-o", tmp_path / "a.csv", "--n-resamples", "20", "--seed", "-1")
    assert res.exit_code == 2 and "Traceback" not in res.output and "--seed" in res.output
    from agreement import ccc

    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        ccc([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.5, 4.0], ci="bootstrap", seed=-1)


def test_deprecated_bootstrap_flag_warns_and_still_works(measurements, tmp_path):
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    res = _run(measurements, "-o", old, "--bootstrap", "50", "--seed", "1")
    assert res.exit_code == 0, res.output
    assert "warning: --bootstrap is deprecated; use --n-resamples" in res.output
    assert _run(measurements, "-o", new, "--n-resamples", "50", "--seed", "1").exit_code == 0
    pd.testing.assert_frame_equal(pd.read_csv(old), pd.read_csv(new))
    assert "--bootstrap" not in CliRunner().invoke(agree, ["stats", "--help"]).output  # hidden


def test_deprecated_n_boot_flag_warns(tmp_path, monkeypatch):
    import agreement.cli.report

    seen = {}

    def fake(source, output, *args, **kwargs):
        from agreement import StatsOptions

        seen["options"] = next(a for a in args if isinstance(a, StatsOptions))  # built once
        return output

    monkeypatch.setattr(agreement.cli.report, "_run_report", fake)
    table = tmp_path / "m.csv"
    table.write_text("case_id,method,metric,reference,predicted\n")
    res = CliRunner().invoke(agree, ["report", str(table), "-o", str(tmp_path / "r"),
                                     "--n-boot", "300", "--no-progress"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "warning: --n-boot is deprecated; use --compare-n-resamples" in res.output
    assert seen["options"].compare_n_resamples == 300
