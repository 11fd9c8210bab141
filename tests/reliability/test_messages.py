"""Messages: permission errors and spreadsheet-made CSV tables, one line naming the file.

Issue 10, items 11 (PermissionError traceback) and 16 (semicolon / decimal-comma CSV; the
row of a ragged line). Running as root bypasses file modes, so the permission cases take
the denial from the operating-system call the tool makes (monkeypatched); one more case uses
real file modes where the tests do not run as root.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def measure(rel, paths, out, *extra):
    return rel.agree("measure", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                     "-o", out, "-j", "1", "--no-progress", *extra)  # fmt: skip


def deny(monkeypatch, denied: Path, mode: int) -> None:
    """``os.access(denied, mode)`` is False, as for a file of another user without that right."""
    real = os.access

    def access(path, wanted, *args, **kwargs):
        if Path(path) == denied and wanted & mode:
            return False
        return real(path, wanted, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


# --- item 11: permission errors -----------------------------------------------------------------


@pytest.mark.bad_input(
    tool="agree measure",
    given="-o inside a folder the user may not write to",
    message="Error: PARENT: permission denied; cannot write OUT there",
)
def test_read_only_output_parent(tmp_path, rel, monkeypatch):
    paths = rel.cohort(tmp_path)
    parent = tmp_path / "shared"
    parent.mkdir()
    deny(monkeypatch, parent, os.W_OK)
    out = parent / "out"
    before = rel.snapshot(tmp_path)
    res = measure(rel, paths, out)
    assert res.exit_code == 2
    assert rel.one_line(res.result.stderr) == f"Error: {parent}: permission denied; cannot write {out} there"  # fmt: skip
    assert rel.no_output(out)
    assert rel.snapshot(tmp_path) == before


@pytest.mark.bad_input(
    tool="agree measure",
    given="a reference mask the user may not read",
    message="(listed in failed.csv as REF/c1.nii.gz: permission denied; cannot read it; with "
    "--strict: Error: REF/c1.nii.gz: permission denied; cannot read it)",
)
def test_unreadable_reference_file(tmp_path, rel, monkeypatch):
    paths = rel.cohort(tmp_path)
    bad = paths["ref"] / "c1.nii.gz"
    deny(monkeypatch, bad, os.R_OK)
    before = rel.snapshot(paths["pred"], paths["ref"], paths["pet"])
    out = tmp_path / "out"
    res = measure(rel, paths, out, "--strict")
    assert res.exit_code == 2
    assert rel.one_line(res.output) == f"Error: {bad}: permission denied; cannot read it"
    assert rel.no_output(out)
    res = measure(rel, paths, out)  # not strict: the other case is measured, c1 listed
    assert res.exit_code == 0, res.output
    failed = (out / "failed.csv").read_text()
    assert f"{bad}: permission denied; cannot read it" in failed
    assert rel.snapshot(paths["pred"], paths["ref"], paths["pet"]) == before


@pytest.mark.bad_input(
    tool="agree measure",
    given="a PET folder the user may not list",
    message="Error: PET: permission denied (check its owner and mode, and those of its folders)",
)
def test_unlistable_input_folder(tmp_path, rel, monkeypatch):
    paths = rel.cohort(tmp_path)
    real = Path.iterdir

    def iterdir(self):
        if self == paths["pet"]:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    before = rel.snapshot(tmp_path)
    out = tmp_path / "out"
    res = measure(rel, paths, out)
    assert res.exit_code == 2
    assert rel.one_line(res.output) == (
        f"Error: {paths['pet']}: permission denied (check its owner and mode, and those of "
        "its folders)"
    )
    monkeypatch.undo()
    assert rel.no_output(out)
    assert rel.snapshot(tmp_path) == before


@pytest.mark.bad_input(
    tool="agree stats",
    given="a measurements table the user may not read (real file modes; skipped as root)",
    message="Error: FILE: cannot read table: [Errno 13] Permission denied: 'FILE'",
)
@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_table_real_modes(tmp_path, rel):
    table = tmp_path / "m.csv"
    table.write_text("case_id,method,metric,reference,predicted\nc1,a,tmtv,1,1\n")
    table.chmod(0)
    try:
        out = tmp_path / "agreement.csv"
        res = rel.agree("stats", table, "-o", out)
        assert res.exit_code == 2
        assert rel.one_line(res.output).startswith(f"Error: {table}: cannot read table: ")
        assert "Permission denied" in res.output
        assert rel.no_output(out)
    finally:
        table.chmod(0o644)


@pytest.mark.bad_input(
    tool="agree report",
    given="a PermissionError anywhere while writing the report (e.g. a figure file)",
    message="Error: PATH: permission denied (check its owner and mode, and those of its folders)",
)
def test_permission_error_while_writing_is_one_line(tmp_path, rel, monkeypatch):
    import agreement.report.build

    paths = rel.cohort(tmp_path, cases=("c1", "c2", "c3"))
    denied = tmp_path / "somewhere" / "figure.png"

    def figures(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(denied))

    monkeypatch.setattr(agreement.report.build, "_start_figures", figures)
    before = rel.snapshot(tmp_path)
    out = tmp_path / "report"
    res = rel.agree("report", paths["pred"], "--reference", paths["ref"], "--pet", paths["pet"],
                    "-o", out, "-j", "1", "--no-progress")  # fmt: skip
    assert res.exit_code == 2
    assert rel.one_line(res.result.stderr) == (
        f"Error: {denied}: permission denied (check its owner and mode, and those of its folders)"
    )
    assert rel.no_output(out)
    assert rel.snapshot(tmp_path) == before


# --- item 16: spreadsheet-made CSV ------------------------------------------------------------

HEADER = "case_id;method;metric;reference;predicted\n"


@pytest.mark.bad_input(
    tool="agree stats",
    given="a semicolon-separated CSV with decimal commas (a spreadsheet export in many locales)",
    message="Error: FILE: columns are separated by semicolons (';'), not commas; save it "
    "comma-separated with '.' as the decimal mark",
)
def test_semicolon_csv_names_the_delimiter(tmp_path, rel):
    table = tmp_path / "m.csv"
    table.write_text(HEADER + "c1;unet;tmtv;1,5;1,7\nc2;unet;tmtv;2,5;2,4\n")
    before = rel.snapshot(tmp_path)
    out = tmp_path / "agreement.csv"
    res = rel.agree("stats", table, "-o", out)
    assert res.exit_code == 2
    assert rel.one_line(res.output) == (
        f"Error: {table}: columns are separated by semicolons (';'), not commas; save it "
        "comma-separated with '.' as the decimal mark"
    )
    assert rel.no_output(out)
    assert rel.snapshot(tmp_path) == before


@pytest.mark.bad_input(
    tool="agree report",
    given="a comma-separated table whose numbers have decimal commas (ragged rows)",
    message="Error: FILE: cannot read table: line 2 has 7 values, the header 5 columns "
    "(decimal commas? write numbers with '.')",
)
def test_decimal_comma_csv_names_the_line(tmp_path, rel):
    table = tmp_path / "m.csv"
    table.write_text("case_id,method,metric,reference,predicted\n"
                     "c1,unet,tmtv,1,5,1,7\nc2,unet,tmtv,2,5,2,4\n")  # fmt: skip
    before = rel.snapshot(tmp_path)
    out = tmp_path / "report"
    res = rel.agree("report", table, "-o", out, "--no-progress")
    assert res.exit_code == 2
    assert rel.one_line(res.output) == (
        f"Error: {table}: cannot read table: line 2 has 7 values, the header 5 columns "
        "(decimal commas? write numbers with '.')"
    )
    assert rel.no_output(out)
    assert rel.snapshot(tmp_path) == before


@pytest.mark.bad_input(
    tool="agree stats",
    given="a ragged line (one value too many) further down a CSV",
    message="Error: FILE: cannot read table: line 4 has 6 values, the header 5 columns",
)
def test_ragged_line_is_named(tmp_path, rel):
    table = tmp_path / "m.csv"
    table.write_text("case_id,method,metric,reference,predicted\n"
                     "c1,unet,tmtv,1,1.5\nc2,unet,tmtv,2,2.5\nc3,unet,tmtv,3,3.5,x\n")  # fmt: skip
    before = rel.snapshot(tmp_path)
    out = tmp_path / "agreement.csv"
    res = rel.agree("stats", table, "-o", out)
    assert res.exit_code == 2
    assert rel.one_line(res.output) == (
        f"Error: {table}: cannot read table: line 4 has 6 values, the header 5 columns"
    )
    assert rel.no_output(out)
    assert rel.snapshot(tmp_path) == before


@pytest.mark.bad_input(
    tool="agree figures",
    given="a .tsv table that is in fact comma-separated",
    message="Error: FILE: columns are separated by commas (','), not tabs; save it "
    "tab-separated, or as .csv if it is comma-separated",
)
def test_tsv_that_is_comma_separated(tmp_path, rel):
    table = tmp_path / "m.tsv"
    table.write_text("case_id,method,metric,reference,predicted\nc1,unet,tmtv,1,1.5\n")
    before = rel.snapshot(tmp_path)
    out = tmp_path / "figs"
    res = rel.agree("figures", table, "-o", out)
    assert res.exit_code == 2
    assert rel.one_line(res.output) == (
        f"Error: {table}: columns are separated by commas (','), not tabs; save it "
        "tab-separated, or as .csv if it is comma-separated"
    )
    assert rel.no_output(out)
    assert rel.snapshot(tmp_path) == before
