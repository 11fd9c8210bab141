"""Outputs: never over an input, never over someone else's folder, never half-written or lost.

Issue 10, items 1 (-o overlapping an input; --overwrite only over an earlier output), 2 (two
runs into one new -o), 3 (temporaries of killed runs), 5 (spreadsheet formulas from file
names) and 17 (-o naming a file).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from agreement.atomic import MARKER, atomic_dir, rename_noreplace
from agreement.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def measure(rel, paths, out, *extra):
    return rel.agree("measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                     "-o", out, "-j", "1", "--no-progress", *extra)  # fmt: skip


def report(rel, paths, out, *extra):
    return rel.agree("report", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                     "-o", out, "-j", "1", "--no-progress", "--compare-n-resamples", "100", *extra)  # fmt: skip


# --- item 1: -o overlapping an input; --overwrite only over an earlier output ------------------


@pytest.mark.bad_input(
    tool="agree measure",
    given="-o the predictions folder (or a folder holding it, or one inside it), with --overwrite",
    message="Error: OUT: -o overlaps the input folder PRED; choose a folder outside the inputs",
)
@pytest.mark.parametrize("where", ["pred", "parent of ref", "inside pet"])
def test_measure_output_over_an_input_is_refused(tmp_path, rel, where):
    # issue 10.1: `-o PRED --overwrite` deleted the predictions and exited 0
    paths = rel.cohort(tmp_path / "data")
    out = {"pred": paths["pred"], "parent of ref": tmp_path / "data",
           "inside pet": paths["pet"] / "out"}[where]  # fmt: skip
    given = {"pred": paths["pred"], "parent of ref": paths["pred"], "inside pet": paths["pet"]}
    before = rel.snapshot(tmp_path)
    res = measure(rel, paths, out, "--overwrite")
    assert res.exit_code == 2
    assert rel.one_line(res.output) == (
        f"Error: {out}: -o overlaps the input folder {given[where]}; "
        "choose a folder outside the inputs"
    )
    assert rel.snapshot(tmp_path) == before


@pytest.mark.bad_input(
    tool="agree report",
    given="-o the reference folder, with --overwrite",
    message="Error: OUT: -o overlaps the input folder REF; choose a folder outside the inputs",
)
def test_report_output_over_the_reference_is_refused(tmp_path, rel):
    paths = rel.cohort(tmp_path)
    before = rel.snapshot(tmp_path)
    res = report(rel, paths, paths["ref"], "--overwrite")
    assert res.exit_code == 2
    assert rel.one_line(res.output) == (
        f"Error: {paths['ref']}: -o overlaps the input folder {paths['ref']}; "
        "choose a folder outside the inputs"
    )
    assert rel.snapshot(tmp_path) == before


@pytest.mark.bad_input(
    tool="agree report",
    given="a measurements table inside the -o folder, with --overwrite",
    message="Error: OUT: -o holds the input file FILE; choose a folder outside the inputs",
)
def test_report_output_holding_the_table_is_refused(tmp_path, rel):
    paths = rel.cohort(tmp_path)
    tables = tmp_path / "tables"
    assert measure(rel, paths, tables).exit_code == 0
    before = rel.snapshot(tmp_path)
    table = tables / "measurements.csv"
    res = rel.agree("report", table, "-o", tables, "--overwrite", "--no-progress")
    assert res.exit_code == 2
    assert rel.one_line(res.output) == (
        f"Error: {tables}: -o holds the input file {table}; choose a folder outside the inputs"
    )
    assert rel.snapshot(tmp_path) == before


@pytest.mark.bad_input(
    tool="agree figures",
    given="-o the folder holding the measurements table, with --overwrite",
    message="Error: OUT: -o holds the input file FILE; choose a folder outside the inputs",
)
def test_figures_output_holding_the_table_is_refused(tmp_path, rel):
    paths = rel.cohort(tmp_path)
    tables = tmp_path / "tables"
    assert measure(rel, paths, tables).exit_code == 0
    before = rel.snapshot(tmp_path)
    table = tables / "measurements.csv"
    res = rel.agree("figures", table, "-o", tables, "--overwrite", "--format", "png")
    assert res.exit_code == 2
    assert rel.one_line(res.output) == (
        f"Error: {tables}: -o holds the input file {table}; choose a folder outside the inputs"
    )
    assert rel.snapshot(tmp_path) == before


@pytest.mark.bad_input(
    tool="agree merge",
    given="-o one of the shard folders being merged, with --overwrite",
    message="Error: OUT: -o overlaps the input folder SHARD; choose a folder outside the inputs",
)
def test_merge_output_over_a_shard_is_refused(tmp_path, rel):
    paths = rel.cohort(tmp_path)
    shards = [tmp_path / "s0", tmp_path / "s1"]
    for k, shard in enumerate(shards):
        assert measure(rel, paths, shard, "--shard", f"{k}/2").exit_code == 0
    before = rel.snapshot(tmp_path)
    res = rel.agree("merge", *shards, "-o", shards[0], "--overwrite")
    assert res.exit_code == 2
    assert rel.one_line(res.output) == (
        f"Error: {shards[0]}: -o overlaps the input folder {shards[0]}; "
        "choose a folder outside the inputs"
    )
    assert rel.snapshot(tmp_path) == before


@pytest.mark.bad_input(
    tool="agree stats",
    given="-o the measurements table itself, with --overwrite",
    message="Error: FILE: -o is the input table; choose another file name",
)
def test_stats_output_over_its_input_is_refused(tmp_path, rel):
    table = tmp_path / "m.csv"
    table.write_text("case_id,method,metric,reference,predicted\n"
                     + "".join(f"c{i},a,tmtv,{i + 1},{i + 1.5}\n" for i in range(4)))  # fmt: skip
    before = rel.snapshot(tmp_path)
    res = rel.agree("stats", table, "-o", table, "--overwrite")
    assert res.exit_code == 2
    assert rel.one_line(res.output) == f"Error: {table}: -o is the input table; choose another file name"  # fmt: skip
    assert rel.snapshot(tmp_path) == before


@pytest.mark.bad_input(
    tool="agree measure",
    given="--overwrite on an existing folder that no agree command wrote (a thesis folder)",
    message="Error: OUT: not an output of this toolkit (no .pet-agreement-output file); "
    "--overwrite replaces only those: remove it yourself or choose another folder",
)
def test_overwrite_never_replaces_an_arbitrary_folder(tmp_path, rel):
    paths = rel.cohort(tmp_path)
    out = tmp_path / "thesis"
    (out / "chapters").mkdir(parents=True)
    (out / "chapters" / "results.tex").write_text("years of work")
    before = rel.snapshot(tmp_path)
    res = measure(rel, paths, out, "--overwrite")
    assert res.exit_code == 2
    assert rel.one_line(res.output) == (
        f"Error: {out}: not an output of this toolkit (no {MARKER} file); --overwrite replaces "
        "only those: remove it yourself or choose another folder"
    )
    assert rel.snapshot(tmp_path) == before
    assert not list(tmp_path.glob(".thesis*"))


@pytest.mark.bad_input(
    tool="agree report",
    given="--overwrite on an earlier report of agree (the case it is meant for)",
    message="(replaced; exit 0)",
    exit_code=0,
)
def test_overwrite_replaces_an_earlier_output(tmp_path, rel):
    paths = rel.cohort(tmp_path, cases=("c1", "c2", "c3"))
    out = tmp_path / "report"
    assert report(rel, paths, out).exit_code == 0
    (out / "stale.txt").write_text("from the earlier run")
    inputs = rel.snapshot(paths["pred"], paths["ref"], paths["pet"])
    res = report(rel, paths, out, "--overwrite")
    assert res.exit_code == 0, res.output
    assert (out / "index.html").is_file() and (out / MARKER).is_file()
    assert not (out / "stale.txt").exists()
    assert not list(tmp_path.glob(".report*"))
    assert rel.snapshot(paths["pred"], paths["ref"], paths["pet"]) == inputs


# --- item 17: -o naming a file ----------------------------------------------------------------


@pytest.mark.bad_input(
    tool="agree measure",
    given="-o naming an existing file (with or without --overwrite)",
    message="Error: OUT: is a file, not a folder; -o needs a folder name",
)
@pytest.mark.parametrize("overwrite", [(), ("--overwrite",)])
def test_output_that_is_a_file_is_named_at_once(tmp_path, rel, overwrite):
    # issue 10.17: "output folder exists; pass --overwrite", then "--overwrite" said "not a folder"
    paths = rel.cohort(tmp_path)
    out = tmp_path / "results.csv"
    out.write_text("a,b\n1,2\n")
    before = rel.snapshot(tmp_path)
    res = measure(rel, paths, out, *overwrite)
    assert res.exit_code == 2
    assert rel.one_line(res.output) == f"Error: {out}: is a file, not a folder; -o needs a folder name"  # fmt: skip
    assert rel.snapshot(tmp_path) == before


@pytest.mark.bad_input(
    tool="agree report",
    given="-o naming an existing file, with --overwrite",
    message="Error: OUT: is a file, not a folder; -o needs a folder name",
)
def test_report_output_that_is_a_file(tmp_path, rel):
    paths = rel.cohort(tmp_path)
    out = tmp_path / "report.html"
    out.write_text("<html></html>")
    before = rel.snapshot(tmp_path)
    res = report(rel, paths, out, "--overwrite")
    assert res.exit_code == 2
    assert rel.one_line(res.output) == f"Error: {out}: is a file, not a folder; -o needs a folder name"  # fmt: skip
    assert rel.snapshot(tmp_path) == before


# --- item 2: two runs into the same new -o ----------------------------------------------------


@pytest.mark.bad_input(
    tool="agree measure",
    given="another run creates the same -o while this one is writing",
    message="Error: OUT: appeared while this run was writing (another run?); left as it is, "
    "this run's output discarded",
)
def test_output_that_appears_meanwhile_is_left_alone(tmp_path, rel, monkeypatch):
    # issue 10.2: the final rename replaced the other run's folder and both exited 0
    import agreement.cli.measure

    paths = rel.cohort(tmp_path)
    out = tmp_path / "out"
    write = agreement.cli.measure.write_outputs

    def other_run_finishes_first(result, folder, fmt="csv"):
        out.mkdir()  # the other run's rename lands here first (an empty folder is enough)
        return write(result, folder, fmt)

    monkeypatch.setattr(agreement.cli.measure, "write_outputs", other_run_finishes_first)
    before = rel.snapshot(paths["pred"], paths["ref"], paths["pet"])
    res = measure(rel, paths, out)
    assert res.exit_code == 2
    assert rel.one_line(res.result.stderr) == (  # stdout has the layout line
        f"Error: {out}: appeared while this run was writing (another run?); left as it is, "
        "this run's output discarded"
    )
    assert list(out.iterdir()) == []  # the other run's folder, untouched
    assert not list(tmp_path.glob(".out*"))
    assert rel.snapshot(paths["pred"], paths["ref"], paths["pet"]) == before


@pytest.mark.bad_input(
    tool="agree measure",
    given="two runs started at once into the same new -o",
    message="Error: OUT: output folder exists; pass --overwrite to replace it (or: appeared "
    "while this run was writing); exactly one run exits 0",
)
def test_two_runs_into_one_new_output(tmp_path, rel):
    paths = rel.cohort(tmp_path)
    out = tmp_path / "out"
    args = [sys.executable, "-c", "from agreement.cli import main; main()", "measure",
            paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"], "-o", out,
            "-j", "1", "--no-progress"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = [subprocess.Popen(list(map(str, args)), env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    results = sorted((p.wait(timeout=300), p.communicate()[1]) for p in runs)
    assert [code for code, _ in results] == [0, 2], results
    message = rel.one_line(results[1][1])  # stderr of the refused run
    assert message in (
        f"Error: {out}: output folder exists; pass --overwrite to replace it",
        f"Error: {out}: appeared while this run was writing (another run?); left as it is, "
        "this run's output discarded",
    )
    names = {p.name for p in out.iterdir()}
    assert {MARKER, "cases.csv", "lesions.csv", "measurements.csv"} <= names
    assert not list(tmp_path.glob(".out*"))


@pytest.mark.bad_input(
    tool="agreement.atomic.rename_noreplace",
    given="a destination that is an existing empty folder (os.rename would replace it)",
    message="FileExistsError",
    exit_code=None,
)
def test_rename_noreplace_refuses_an_empty_folder(tmp_path):
    src, dst = tmp_path / "new", tmp_path / "other"
    src.mkdir()
    (src / "a.csv").write_text("x")
    dst.mkdir()
    with pytest.raises(FileExistsError):
        rename_noreplace(src, dst)
    assert (src / "a.csv").is_file() and list(dst.iterdir()) == []
    os.rename(src, dst)  # what the old code did: silently replaces the empty folder
    assert (dst / "a.csv").is_file()


# --- item 3: temporaries of killed runs -------------------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.bad_input(
    tool="agree measure",
    given="a temporary folder beside -o left by a run killed with kill -9",
    message="note: removed .OUT.HOST.PID.RANDOM.tmp, left by a run that stopped (pid PID)",
    exit_code=0,
)
def test_killed_run_temporary_is_removed_by_the_next_run(tmp_path, rel):
    # issue 10.3: kill -9 left .out.RANDOM.tmp beside -o forever
    paths = rel.cohort(tmp_path)
    out = tmp_path / "out"
    script = textwrap.dedent(f"""
        import os, signal
        from agreement.atomic import atomic_dir
        with atomic_dir({str(out)!r}) as tmp:
            (tmp / "measurements.csv").write_text("half")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    killed = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    (left,) = tmp_path.glob(".out.*.tmp")
    pid = int(re.fullmatch(r"\.out\.[A-Za-z0-9-]+\.(\d+)\..*\.tmp", left.name)[1])
    alive = tmp_path / f".out.{re.sub(r'[^A-Za-z0-9-]', '-', socket.gethostname())[:40]}.{os.getpid()}.x.tmp"  # fmt: skip
    alive.mkdir()  # a temporary of a run still going (this process): kept
    before = rel.snapshot(paths["pred"], paths["ref"], paths["pet"])
    res = measure(rel, paths, out)
    assert res.exit_code == 0, res.output
    assert f"note: removed {left}, left by a run that stopped (pid {pid})" in res.output.splitlines()  # fmt: skip
    assert not left.exists() and alive.is_dir()
    assert (out / "measurements.csv").read_text() != "half"
    assert rel.snapshot(paths["pred"], paths["ref"], paths["pet"]) == before


@pytest.mark.bad_input(
    tool="agree stats",
    given="a temporary file beside -o left by a killed run",
    message="note: removed .FILE.HOST.PID.RANDOM.tmp, left by a run that stopped (pid PID)",
    exit_code=0,
)
def test_killed_run_temporary_file_is_removed(tmp_path, rel):
    table = tmp_path / "m.csv"
    table.write_text("case_id,method,metric,reference,predicted\n"
                     + "".join(f"c{i},a,tmtv,{i + 1},{i + 1.5}\n" for i in range(4)))  # fmt: skip
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40]
    pid = _dead_pid()
    left = tmp_path / f".agreement.csv.{host}.{pid}.abc123.tmp"
    left.write_text("half a table")
    res = rel.agree("stats", table, "-o", tmp_path / "agreement.csv")
    assert res.exit_code == 0, res.output
    assert f"note: removed {left}, left by a run that stopped (pid {pid})" in res.output.splitlines()  # fmt: skip
    assert not left.exists()


@pytest.mark.bad_input(
    tool="agreement.atomic.atomic_dir",
    given="an exception while the output is being written",
    message="(the exception; no folder and no temporary left)",
    exit_code=None,
)
def test_failed_body_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(InputError, match="boom"), atomic_dir(out) as tmp:
        (tmp / "a.csv").write_text("x")
        raise InputError("boom")
    assert list(tmp_path.iterdir()) == []


# --- item 5: spreadsheet formulas from file names ----------------------------------------------


@pytest.mark.bad_input(
    tool="agree measure",
    given="a method folder and a case file named like spreadsheet formulas (=1+2, @SUM, -cmd)",
    message="(tables written with the cells quoted: '=1+2; numbers such as -1.5 stay numbers)",
    exit_code=0,
)
def test_formula_names_are_quoted_in_tables(tmp_path, rel):
    # issue 10.5: a method folder "=HYPERLINK(...)" opened as a formula in a spreadsheet
    paths = rel.cohort(tmp_path, cases=("-cmd", "c2", "c3"), methods=("=1+2", "@SUM"))
    out = tmp_path / "out"
    before = rel.snapshot(paths["pred"], paths["ref"], paths["pet"])
    res = measure(rel, paths, out)
    assert res.exit_code == 0, res.output
    cells = {c for line in (out / "cases.csv").read_text().splitlines()[1:] for c in line.split(",")}  # fmt: skip
    assert {"'=1+2", "'@SUM", "'-cmd"} <= cells
    assert not {"=1+2", "@SUM", "-cmd"} & cells
    back = pd.read_csv(out / "cases.csv", dtype={"case_id": str, "method": str})
    assert pd.api.types.is_float_dtype(back["dsc"])  # numbers stay numbers
    # tables read back by agree give the names exactly
    stats = rel.agree("stats", out / "measurements.csv", "-o", tmp_path / "agreement.csv")
    assert stats.exit_code == 0, stats.output
    agreement = (tmp_path / "agreement.csv").read_text()
    assert "\n'=1+2," in agreement and "\n'@SUM," in agreement
    assert rel.snapshot(paths["pred"], paths["ref"], paths["pet"]) == before


@pytest.mark.bad_input(
    tool="agreement.write_table",
    given="text cells starting with = + - @ tab or CR, and text or numbers like -1.5",
    message="(formula-like text quoted with '; -1.5 and '-1.5' as text left as they are)",
    exit_code=None,
)
def test_write_table_quotes_formulas_and_keeps_numbers(tmp_path):
    from agreement.tables import read_table, write_table

    df = pd.DataFrame({
        "name": ["=cmd|' /C calc'!A0", "+1+1", "-x", "@SUM(A1)", "\tx", "\rx", "-1.5", "'=a", "ok"],
        "value": [-1.5, 2.0, -3e-4, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
    })  # fmt: skip
    for ext in ("csv", "tsv"):
        path = tmp_path / f"t.{ext}"
        write_table(df, path)
        raw = pd.read_csv(path, sep="," if ext == "csv" else "\t", dtype={"name": str})
        assert raw["name"].tolist() == ["'=cmd|' /C calc'!A0", "'+1+1", "'-x", "'@SUM(A1)",
                                        "'\tx", "'\rx", "-1.5", "''=a", "ok"]  # fmt: skip
        assert raw["value"].tolist() == df["value"].tolist()
        back = read_table(path, dtype={"name": str})
        pd.testing.assert_frame_equal(back, df)
