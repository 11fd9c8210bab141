"""Reading, validating and writing tidy tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from agreement.errors import InputError
from agreement.tables import (
    CANONICAL_UNITS,
    METRIC_LABELS,
    UnpairedWarning,
    read_measurements,
    read_table,
    split_method,
    validate_measurements,
    write_measurements,
    write_table,
)


def _df():
    return pd.DataFrame({
        "case_id": ["c1", "c2", "c3", "c1", "c2", "c3"],
        "method": ["unet/dice"] * 3 + ["attention_unet/l1dfl"] * 3,
        "metric": ["tmtv"] * 6,
        "reference": [10.0, 12.5, 3.0] * 2,
        "predicted": [11.0, 12.0, 2.5, 10.2, 12.4, 3.1],
        "fold": [0, 1, 2, 0, 1, 2],
    })  # fmt: skip


@pytest.mark.parametrize("name", ["m.csv", "m.tsv", "m.parquet"])
def test_roundtrip(tmp_path, name):
    path = tmp_path / name
    write_measurements(_df(), path)
    back = read_measurements(path)
    pd.testing.assert_frame_equal(back, _df(), check_dtype=False)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


def test_tsv_is_tab_separated(tmp_path):
    write_table(_df(), tmp_path / "m.tsv")
    assert (tmp_path / "m.tsv").read_text().splitlines()[0].split("\t")[:2] == ["case_id", "method"]


def test_missing_columns_named(tmp_path):
    path = tmp_path / "m.csv"
    _df().drop(columns=["reference", "metric"]).to_csv(path, index=False)
    with pytest.raises(InputError, match=r"m\.csv: missing column\(s\) 'metric', 'reference'"):
        read_measurements(path)


def test_non_numeric_rows_named(tmp_path):
    path = tmp_path / "m.csv"
    df = _df().astype({"predicted": object})
    df.loc[4, "predicted"] = "high"
    df.to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        read_measurements(path)
    message = str(err.value)
    assert "m.csv: non-numeric predicted in row 5 (case_id=c2)" in message and "\n" not in message


def test_duplicates_named():
    df = pd.concat([_df(), _df().iloc[[1]]])
    with pytest.raises(InputError, match=r"2 duplicate .*\(c2, unet/dice, tmtv\)"):
        validate_measurements(df, source="x.csv")


def test_nan_raises_or_is_omitted():
    df = _df()
    df.loc[2, "reference"] = np.nan
    with pytest.raises(
        InputError, match=r"x.csv: missing reference/predicted value in row 3 \(case_id=c3\)"
    ):
        validate_measurements(df, source="x.csv")
    with pytest.warns(UserWarning, match="dropped 1 row"):
        out = validate_measurements(df, source="x.csv", nan_policy="omit", check_pairing=False)
    assert len(out) == 5


def test_unpaired_cases_warn():
    df = _df().drop(index=5)
    with pytest.warns(
        UnpairedWarning, match="'attention_unet/l1dfl' lacks 1 case\\(s\\) other methods have: c3"
    ):
        validate_measurements(df, source="x.csv")


def test_reference_differing_between_methods_warns():
    df = _df()
    df.loc[3, "reference"] = 99.0
    with pytest.warns(UnpairedWarning, match="reference differs between methods for 1 case"):
        validate_measurements(df)


def test_empty_and_bad_files(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_measurements(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="unknown table extension '.xlsx'"):
        read_table(tmp_path / "m.xlsx")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="empty.csv: cannot read table"):
        read_measurements(tmp_path / "empty.csv")
    (tmp_path / "head.csv").write_text("case_id,method,metric,reference,predicted\n")
    with pytest.raises(InputError, match="no rows"):
        read_measurements(tmp_path / "head.csv")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(InputError, match="bad.parquet: cannot read table"):
        read_table(tmp_path / "bad.parquet")


def test_write_failure_leaves_no_file(tmp_path):
    with pytest.raises(InputError):
        write_measurements(_df().drop(columns=["case_id"]), tmp_path / "m.csv")
    assert list(tmp_path.iterdir()) == []


def test_split_method_and_dicts():
    assert split_method("unet/l1dfl") == ("unet", "l1dfl")
    assert split_method("a/b/c") == ("a", "b/c")
    net, loss = split_method("ensemble")
    assert math.isnan(net) and math.isnan(loss)
    assert CANONICAL_UNITS["tla"] == "SUV·ml" and METRIC_LABELS["lesion_count"] == "Lesion count"
    assert (
        set(CANONICAL_UNITS)
        == set(METRIC_LABELS)
        == {"suv_max", "suv_mean", "tla", "tmtv", "lesion_count", "dmax"}
    )


def test_case_ids_keep_leading_zeros(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("case_id,method,metric,reference,predicted\n001,m,tmtv,1,1.5\n010,m,tmtv,2,2\n")
    assert read_measurements(path)["case_id"].tolist() == ["001", "010"]


def test_infinite_values_named():
    # review: inf passed validation and crashed `agree stats` with a traceback (exit 1)
    df = _df()
    df.loc[4, "predicted"] = np.inf
    with pytest.raises(
        InputError, match=r"infinite reference/predicted value in row 5 \(case_id=c2\)"
    ):
        validate_measurements(df)


def test_trailing_delimiter_does_not_shift_columns(tmp_path):
    # review: pandas took the first column as the index when every row ended in ",", so
    # method became the case id, metric the method ... (spreadsheet exports do this)
    path = tmp_path / "m.csv"
    path.write_text("case_id,method,metric,reference,predicted\nc1,m,tmtv,1,1.5,\nc2,m,tmtv,2,2,\n")
    table = read_measurements(path)
    assert table["case_id"].tolist() == ["c1", "c2"]
    assert table["metric"].tolist() == ["tmtv", "tmtv"]
    assert table["predicted"].tolist() == [1.5, 2.0]


def test_row_with_extra_values_is_an_error(tmp_path):
    # review: rows with one value too many were silently read shifted by one column
    path = tmp_path / "m.csv"
    path.write_text(
        "case_id,method,metric,reference,predicted\nc1,m,tmtv,1,1.5,9\nc2,m,tmtv,2,2,7\n"
    )
    with pytest.raises(InputError, match="m.csv: cannot read table: line 2 has 6 values, the header 5 columns"):
        read_measurements(path)


@pytest.mark.parametrize("kind", ["measurements", "cases", "lesions", "failed", "missing"])
def test_read_table_checks_the_schema(tmp_path, kind):
    from agreement.schemas import SCHEMAS
    from agreement.tables import read_table, write_table

    schema = SCHEMAS[kind]
    path = tmp_path / f"{kind}.csv"
    row = {c: ("007" if t == "str" else 1) for c, t in schema.dtypes.items()}
    write_table(schema.frame([row]), path)
    table = read_table(path, kind=kind)
    assert list(table.columns) == list(schema.columns)
    assert table["case_id"].tolist() == ["007"]  # ids stay text
    lacking = schema.required[-1]
    write_table(schema.frame([row]).drop(columns=lacking), path)
    with pytest.raises(InputError) as err:
        read_table(path, kind=kind)
    assert str(err.value) == f"{path}: not a {kind} table, missing column(s) {lacking}"
    with pytest.raises(ValueError, match="kind must be one of measurements, cases"):
        read_table(path, kind="agreement")


def test_measure_writes_the_schema_columns(tmp_path):
    # The writers use the schemas: agree measure's tables have exactly their columns.
    import nibabel as nib

    from agreement import measure_cohort
    from agreement.schemas import SCHEMAS

    m = np.zeros((8, 8, 8), np.uint8)
    m[2:4, 2:4, 2:4] = 1
    for sub, arr in [("pred/unet", m), ("ref", m), ("pet", np.ones(m.shape, np.float32))]:
        (tmp_path / sub).mkdir(parents=True)
        nib.save(nib.Nifti1Image(arr, np.eye(4)), tmp_path / sub / "c1.nii.gz")
    res = measure_cohort(tmp_path / "pred", tmp_path / "ref", tmp_path / "pet", progress=False)
    for kind in ("measurements", "cases", "lesions", "failed", "missing"):
        assert tuple(getattr(res, kind).columns) == SCHEMAS[kind].columns, kind
