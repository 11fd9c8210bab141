"""overlap() against the autoPET script's definitions and detect() against the published code."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from agreement.measures.detection import detect, f1_score
from agreement.measures.overlap import overlap


@pytest.mark.parametrize("seed", range(40))
def test_overlap_matches_autopet_definitions(seed, brute):
    # Oracle: lab-midas/autoPET val_script.py (dice_score, false_pos_pix, false_neg_pix),
    # re-typed in conftest.bf_overlap with one np.isin-style mask per component.
    rng = np.random.default_rng(seed)
    ref, pred, _, spacing = brute.random_case(rng)
    got = overlap(predicted=pred, reference=ref, spacing=spacing)
    expected = brute.overlap(ref, pred, spacing)
    assert_allclose([got["fpv"], got["fnv"]], [expected["fpv"], expected["fnv"]], rtol=1e-12)
    if math.isnan(expected["dsc"]):
        assert math.isnan(got["dsc"])
    else:
        assert_allclose(got["dsc"], expected["dsc"], rtol=1e-12)


@pytest.mark.parametrize("seed", range(60))
def test_compat_reference_equals_published_code(seed, brute):
    # Oracle: the published calculate_patient_level_tp_fp_fn written out naively (conftest).
    rng = np.random.default_rng(1000 + seed)
    ref, pred, pet, _ = brute.random_case(rng)
    for criterion, name in [("suvmax", "criterion3"), ("overlap", "criterion1"),
                            ("iou", "criterion2")]:  # fmt: skip
        res = detect(predicted=pred, reference=ref, pet=pet, criterion=criterion, compat="reference")
        assert (res.tp, res.fp, res.fn) == brute.published_detection(ref, pred, pet, name), (
            criterion
        )


def _suvmax_oracle(ref, pred, pet, brute):
    """DESIGN §5 rule written directly: the SUVmax voxel of each lesion inside any prediction."""
    gl, gn = brute.label(ref)
    pl, pn = brute.label(pred)
    peaks = []
    for j in range(1, gn + 1):
        flat = np.where(gl == j, pet, -np.inf).ravel()
        peaks.append(np.unravel_index(int(np.argmax(flat)), ref.shape))
    tp = sum(pred[p] for p in peaks)
    holders = {int(pl[p]) for p in peaks if pred[p]}
    return int(tp), pn - len(holders), gn - int(tp)


@pytest.mark.parametrize("seed", range(40))
def test_suvmax_rule_matches_definition(seed, brute):
    rng = np.random.default_rng(2000 + seed)
    ref, pred, pet, _ = brute.random_case(rng)
    res = detect(predicted=pred, reference=ref, pet=pet)
    assert (res.tp, res.fp, res.fn) == _suvmax_oracle(ref, pred, pet, brute)
    assert res.tp + res.fn == brute.label(ref)[1]
    ref_rows = res.matches[res.matches.side == "reference"]
    assert ref_rows.lesion_dsc.tolist() == pytest.approx(_overlap_lesion_dsc(ref, pred, brute))


def _overlap_lesion_dsc(ref, pred, brute):
    """Paper 001 §2.7.2 written directly: each reference lesion against the predicted lesion
    it overlaps most (any shared voxel is a match); no overlap gives DSC 0."""
    gl, gn = brute.label(ref)
    pl, pn = brute.label(pred)
    out = []
    for j in range(1, gn + 1):
        g = gl == j
        shared = [np.sum(g & (pl == i)) for i in range(1, pn + 1)]
        if not shared or max(shared) == 0:
            out.append(0.0)
            continue
        i = int(np.argmax(shared)) + 1
        out.append(2 * max(shared) / (g.sum() + (pl == i).sum()))
    return out


def test_lesion_dsc_pairs_by_overlap_even_when_the_suvmax_voxel_is_missed():
    # The prediction covers 3 of the lesion's 4 voxels but not its SUVmax voxel: not detected
    # (FN, DESIGN §5), yet its lesion DSC is 2·3/(4+3) (paper 001 §2.7.2), not 0.
    ref = np.zeros((3, 3, 8), bool)
    ref[1, 1, 0:4] = True
    pred = np.zeros_like(ref)
    pred[1, 1, 1:4] = True
    pet = np.ones(ref.shape)
    pet[1, 1, 0] = 9.0
    res = detect(predicted=pred, reference=ref, pet=pet)
    assert (res.tp, res.fp, res.fn) == (0, 1, 1)
    row = res.matches[res.matches.side == "reference"].iloc[0]
    assert row.status == "fn"
    assert row.lesion_dsc == pytest.approx(6 / 7)


def _two_lesions_one_blob():
    ref = np.zeros((3, 3, 9), bool)
    ref[1, 1, 0:3] = ref[1, 1, 5:9] = True
    pred = np.zeros_like(ref)
    pred[1, 1, :] = True
    pet = np.ones(ref.shape)
    pet[1, 1, 1] = pet[1, 1, 7] = 5
    return ref, pred, pet


def test_one_blob_over_two_lesions_both_semantics():
    ref, pred, pet = _two_lesions_one_blob()
    fixed = detect(predicted=pred, reference=ref, pet=pet)
    assert (fixed.tp, fixed.fp, fixed.fn) == (2, 0, 0)
    assert fixed.matches.status.tolist() == ["tp", "tp", "tp"]
    # Published code: the blob is credited only with its max-IoU lesion (the larger one,
    # IoU 4/9 vs 3/9); the other lesion is FN although its SUVmax voxel is inside.
    compat = detect(predicted=pred, reference=ref, pet=pet, compat="reference")
    assert (compat.tp, compat.fp, compat.fn) == (1, 0, 1)
    rows = compat.matches.set_index(["side", "lesion_id"])
    assert rows.loc[("reference", 2), "status"] == "tp"
    assert rows.loc[("reference", 1), "status"] == "fn"
    assert math.isnan(rows.loc[("reference", 1), "lesion_dsc"])  # NaN in compat
    # lesion DSC pairs by largest overlap (paper 001 §2.7.2): P is paired with G2 (4 > 3 voxels)
    assert fixed.matches.lesion_dsc.tolist() == pytest.approx([2 * 3 / 12, 2 * 4 / 13, 2 * 4 / 13])


def test_overlap_without_suvmax_voxel_double_penalty_in_compat():
    ref = np.zeros((3, 3, 8), bool)
    ref[1, 1, 0:6] = True
    pet = np.ones(ref.shape)
    pet[1, 1, 0] = 9  # SUVmax voxel at the end the prediction misses
    pred = np.zeros_like(ref)
    pred[1, 1, 2:6] = True
    compat = detect(predicted=pred, reference=ref, pet=pet, compat="reference")
    assert (compat.tp, compat.fp, compat.fn) == (0, 1, 1)
    fixed = detect(predicted=pred, reference=ref, pet=pet)
    assert (fixed.tp, fixed.fp, fixed.fn) == (0, 1, 1)
    by_overlap = detect(predicted=pred, reference=ref, pet=pet, criterion="overlap")
    assert (by_overlap.tp, by_overlap.fp, by_overlap.fn) == (1, 0, 0)


def test_iou_criterion_one_to_one():
    ref = np.zeros((3, 3, 12), bool)
    ref[1, 1, 0:4] = True
    ref[1, 1, 8:12] = True
    pred = np.zeros_like(ref)
    pred[1, 1, 0:3] = True  # IoU 3/4
    pred[1, 1, 9:10] = True  # IoU 1/4
    res = detect(predicted=pred, reference=ref, pet=np.ones(ref.shape), criterion="iou", iou_threshold=0.5)
    assert (res.tp, res.fp, res.fn) == (1, 1, 1)


def test_empty_masks():
    z = np.zeros((4, 4, 4), bool)
    res = detect(predicted=z, reference=z, pet=np.ones(z.shape))
    assert (res.tp, res.fp, res.fn) == (0, 0, 0) and math.isnan(res.f1)
    ov = overlap(predicted=z, reference=z, spacing=(1, 1, 1))
    assert math.isnan(ov["dsc"]) and ov["fpv"] == 0 and ov["fnv"] == 0
    p = z.copy()
    p[1, 1, 1] = True
    assert overlap(predicted=p, reference=z, spacing=(2, 2, 2)) == {"dsc": 0.0, "fpv": 0.008, "fnv": 0.0}
    res = detect(predicted=p, reference=z, pet=np.ones(z.shape))
    assert (res.tp, res.fp, res.fn, res.f1) == (0, 1, 0, 0.0)


def test_f1_definition():
    # seed 000 eq. (5): F1 = TP / (TP + (FP + FN) / 2)
    assert f1_score(4, 3, 1) == pytest.approx(4 / 6)
    assert math.isnan(f1_score(0, 0, 0))


def test_bad_arguments():
    z = np.zeros((2, 2, 2), bool)
    with pytest.raises(ValueError, match="criterion"):
        detect(predicted=z, reference=z, pet=z, criterion="dice")
    with pytest.raises(ValueError, match="iou_threshold"):
        detect(predicted=z, reference=z, pet=z, criterion="iou", iou_threshold=0)
    with pytest.raises(ValueError, match="compat"):
        detect(predicted=z, reference=z, pet=z, compat="papers")
    with pytest.raises(ValueError, match="same shape"):
        detect(predicted=z, reference=z, pet=np.zeros((2, 2, 3)))


def test_compat_iou_tie_broken_in_published_label_order(brute):
    # Two 2-voxel lesions, each sharing one voxel with one predicted path (equal IoU 1/15).
    # The published code labels Fortran-ordered arrays, so lesion B (first in Fortran order)
    # wins the tie; the path misses B's SUVmax voxel: FP, and both lesions FN.
    ref = np.zeros((8, 8, 8), bool)
    ref[0, 6, 6] = ref[0, 6, 7] = True  # A, SUVmax at (0, 6, 6)
    ref[6, 0, 0] = ref[7, 0, 0] = True  # B, SUVmax at (7, 0, 0)
    pet = np.ones(ref.shape)
    pet[0, 6, 6] = pet[7, 0, 0] = 5
    pred = np.zeros_like(ref)
    pred[0:7, 6, 6] = True
    pred[6, 0:7, 6] = True
    pred[6, 0, 0:7] = True
    compat = detect(predicted=pred, reference=ref, pet=pet, compat="reference")
    assert (compat.tp, compat.fp, compat.fn) == (0, 1, 2)
    assert (compat.tp, compat.fp, compat.fn) == brute.published_detection(
        ref, pred, pet, "criterion3"
    )
    fixed = detect(predicted=pred, reference=ref, pet=pet)
    assert (fixed.tp, fixed.fp, fixed.fn) == (1, 0, 1)


def test_masks_by_keyword_only_and_old_names_warn():
    # The masks' order changed from (reference, predicted) to (predicted, reference): a
    # positional call cannot be told apart, so it is refused; the old keywords still work.
    ref = np.zeros((4, 4, 4), bool)
    ref[0, 0, :2] = True
    pred = np.zeros((4, 4, 4), bool)
    pred[0, 0, 1:3] = True
    pred[3, 3, 3] = True
    pet = np.ones(ref.shape)
    pet[0, 0, 1] = 5.0  # the reference lesion's SUVmax voxel lies in the prediction
    with pytest.raises(TypeError, match=r"by keyword.*\(predicted, reference\)"):
        overlap(ref, pred, (2, 2, 2))
    with pytest.raises(TypeError, match="by keyword"):
        detect(ref, pred, pet)
    new = overlap(predicted=pred, reference=ref, spacing=(2, 2, 2))
    assert new["fpv"] == pytest.approx(0.008) and new["fnv"] == 0.0  # the lone voxel is an FP
    with pytest.deprecated_call(match="reference_mask=...\\) is deprecated; pass reference="):
        old = overlap(reference_mask=ref, predicted_mask=pred, spacing=(2, 2, 2))
    assert old == new
    with pytest.deprecated_call():
        old_det = detect(reference_mask=ref, predicted_mask=pred, pet=pet)
    new_det = detect(predicted=pred, reference=ref, pet=pet)
    assert (old_det.tp, old_det.fp, old_det.fn) == (new_det.tp, new_det.fp, new_det.fn) == (1, 1, 0)
    with pytest.raises(TypeError, match="both reference_mask= and reference="):
        detect(reference_mask=ref, reference=ref, predicted=pred, pet=pet)
