"""MeasureOptions: validated once, defaults defined once, taken whole by the measuring API."""

from __future__ import annotations

import dataclasses

import click
import pandas as pd
import pytest

from agreement import MeasureOptions, measure_case, measure_cohort
from agreement.cli.measure import build_measure_options, measure


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"connectivity": 8}, "connectivity must be 6, 18 or 26"),
        ({"connectivity": True}, "connectivity must be 6, 18 or 26"),
        ({"criterion": "centroid"}, "criterion must be one of suvmax, overlap, iou"),
        ({"iou_threshold": 0.0}, r"iou_threshold must be in \(0, 1\]"),
        ({"iou_threshold": 1.5}, r"iou_threshold must be in \(0, 1\]"),
        ({"compat": "paper"}, "compat must be None or 'reference'"),
        ({"label": 0}, "label must be a positive lesion label value"),
        ({"pred_label": 2.5}, "pred_label must be a positive lesion label value"),
        ({"missing": "zero"}, "missing must be one of skip, empty, fail"),
        ({"resample": "yes"}, "resample must be True or False"),
        ({"roi": ""}, "roi must be a non-empty name pattern"),
    ],
)
def test_bad_options_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MeasureOptions(**kwargs)


def test_options_are_frozen_and_resolve_labels():
    opts = MeasureOptions(label=255, pred_label=1)
    assert (opts.reference_value, opts.pred_value) == (255, 1)
    assert MeasureOptions().reference_value is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.label = 2  # type: ignore[misc]
    assert MeasureOptions(**opts.to_dict()) == opts


def test_cli_defaults_are_the_dataclass_defaults():
    # The help shows MeasureOptions' defaults: no default is restated in the CLI.
    defaults = MeasureOptions()
    ctx = click.Context(measure)
    flags = {p.name: p.get_default(ctx) for p in measure.params}
    for field in dataclasses.fields(MeasureOptions):
        shown = flags[field.name]
        if shown is not None and field.name != "resample":  # --resample is a flag
            assert type(getattr(defaults, field.name))(shown) == getattr(defaults, field.name)
    assert build_measure_options(flags) == defaults


def test_cohort_result_carries_its_options(tmp_path, nifti):
    paths = nifti.cohort(tmp_path, cases=("c1",))
    opts = MeasureOptions(connectivity=6, criterion="overlap")
    res = measure_cohort(paths["pred"], paths["ref"], paths["pet"], options=opts,
                         progress=False, workers=1)  # fmt: skip
    assert res.options is opts


@pytest.mark.parametrize("api", ["cohort", "case"])
def test_old_keywords_warn_and_give_the_same_tables(tmp_path, nifti, api):
    paths = nifti.cohort(tmp_path, cases=("c1",))
    if api == "cohort":
        def call(**kw):
            return measure_cohort(paths["pred"], paths["ref"], paths["pet"], progress=False,
                                  workers=1, **kw)  # fmt: skip
    else:
        def call(**kw):
            p = paths["pred"] / "unet" / "c1.nii.gz"
            return measure_case(p, paths["ref"] / "c1.nii.gz", paths["pet"] / "c1.nii.gz", **kw)
    new = call(options=MeasureOptions(connectivity=6, criterion="iou", iou_threshold=0.3))
    with pytest.deprecated_call(match=r"options=MeasureOptions\(connectivity=6"):
        old = call(connectivity=6, criterion="iou", iou_threshold=0.3)
    for name in ("measurements", "cases", "lesions"):
        pd.testing.assert_frame_equal(getattr(old, name), getattr(new, name))
    assert (new.cases["tp"] >= 0).all()


def test_unknown_keyword_is_a_type_error(tmp_path, nifti):
    paths = nifti.cohort(tmp_path, cases=("c1",))
    with pytest.raises(TypeError, match="unexpected keyword argument 'conectivity'"):
        measure_cohort(paths["pred"], paths["ref"], paths["pet"], conectivity=6)
