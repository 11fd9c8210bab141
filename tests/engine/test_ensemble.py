"""Ensembling rules on hand-made probability maps (expected labels worked out by hand below)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from segengine.ensembling import ensemble

pytestmark = pytest.mark.engine


def _two_class(fg: list[list[float]]) -> np.ndarray:
    """(R, V) lesion probabilities -> (R, 2, V) softmax-like maps."""
    p = np.asarray(fg, dtype=np.float32)
    return np.stack([1 - p, p], axis=1)


# Five folds, five voxels. Lesion votes (p > 0.5) per voxel: 5, 3, 2, 0, 3.
FG = [
    [0.9, 0.6, 0.9, 0.1, 0.51],
    [0.8, 0.7, 0.9, 0.2, 0.51],
    [0.7, 0.8, 0.4, 0.3, 0.51],
    [0.9, 0.2, 0.4, 0.4, 0.0],
    [0.6, 0.1, 0.4, 0.45, 0.0],
]


def test_majority_needs_three_of_five():
    # pca_segment ensemble_predict.py: lesion where the sum of 5 fold labels > 2.
    assert_array_equal(ensemble(_two_class(FG), "majority"), [1, 1, 0, 0, 1])


def test_majority_on_label_maps_matches_probabilities():
    labels = (np.asarray(FG) > 0.5).astype(np.uint8)
    assert_array_equal(ensemble(labels, "majority"), ensemble(_two_class(FG), "majority"))


def test_majority_tie_is_background():
    # Strictly more than half: 2 of 4 is not a majority.
    labels = np.array([[1, 1], [1, 0], [0, 1], [0, 0]])
    assert_array_equal(ensemble(labels, "majority"), [0, 0])
    assert_array_equal(ensemble(labels[:3], "majority"), [1, 1])


def test_majority_multiclass_and_fractions():
    # 3 runs, 3 classes, 2 voxels: votes (2, 2, 2 of 3 for class 2) and (1, 1, 1: no majority).
    labels = np.array([[2, 0], [2, 1], [1, 2]])
    out, frac = ensemble(labels, "majority", return_probabilities=True)
    assert_array_equal(out, [2, 0])
    assert_allclose(frac[:, 0], [0, 1 / 3, 2 / 3])
    assert_allclose(frac[:, 1], [1 / 3, 1 / 3, 1 / 3])


def test_mean_of_probabilities():
    # Column means of FG: 0.78, 0.48, 0.6, 0.29, 0.306 -> lesion, bg, lesion, bg, bg.
    labels, mean = ensemble(_two_class(FG), "mean", return_probabilities=True)
    assert_array_equal(labels, [1, 0, 1, 0, 0])
    assert_allclose(mean[1], np.mean(FG, axis=0), rtol=1e-6)
    assert_allclose(mean.sum(0), 1.0, rtol=1e-6)


def test_weighted_mean_normalises_weights():
    # Weights 3:1: p = 0.75*a + 0.25*b = 0.425, 0.575, 0.725 -> bg, lesion, lesion;
    # the plain mean (0.55, 0.45, 0.55) gives lesion, bg, lesion: weighting matters here.
    probs = _two_class([[0.3, 0.7, 0.9], [0.8, 0.2, 0.2]])
    labels, mean = ensemble(probs, "weighted", weights=[0.6, 0.2], return_probabilities=True)
    assert_allclose(mean[1], [0.425, 0.575, 0.725], rtol=1e-6)
    assert_array_equal(labels, [0, 1, 1])
    assert_array_equal(ensemble(probs, "mean"), [1, 0, 1])
    # Weights scaled by a constant give the same result (MONAI MeanEnsemble normalises too).
    assert_array_equal(ensemble(probs, "weighted", weights=[6.0, 2.0]), labels)
    # Weight on one run only: that run's argmax.
    assert_array_equal(ensemble(probs, "weighted", weights=[0.0, 1.0]), [1, 0, 0])


def test_weighted_warns_when_weights_nearly_equal():
    # The autoPET 2024 fold DSCs (seed_code.md section 7) differ by ~2 %: weighting is a no-op.
    with pytest.warns(UserWarning, match="almost the same"):
        ensemble(_two_class(FG), "weighted", weights=[0.6358, 0.6278, 0.6415, 0.6305, 0.6297])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "vote"}, "method must be"),
        ({"method": "weighted"}, "needs weights"),
        ({"method": "weighted", "weights": [1, 2]}, "2 weights for 5 runs"),
        ({"method": "weighted", "weights": [1, -1, 1, 1, 1]}, ">= 0"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ensemble(_two_class(FG), **kwargs)


def test_mean_rejects_label_maps():
    with pytest.raises(ValueError, match="float probabilities"):
        ensemble(np.zeros((3, 4), dtype=np.uint8), "mean")


def test_torch_gives_the_same_as_numpy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    fg = rng.random((5, 4, 3, 2)).astype(np.float32)
    probs = np.stack([1 - fg, fg], axis=1)
    for method, w in [("majority", None), ("mean", None), ("weighted", [1, 2, 3, 4, 5])]:
        a = ensemble(probs, method, w)
        b = ensemble(torch.from_numpy(probs), method, w)
        assert isinstance(b, torch.Tensor)
        assert_array_equal(b.numpy(), a)
    assert_array_equal(
        ensemble(torch.from_numpy((fg > 0.5).astype(np.int64)), "majority").numpy(),
        ensemble(probs, "majority"),
    )
