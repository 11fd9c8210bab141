"""Losses: MONAI losses as configured in the papers, and L1DFL against its equations."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from monai.losses import (  # noqa: E402
    DiceCELoss,
    DiceFocalLoss,
    DiceLoss,
    FocalLoss,
    GeneralizedDiceFocalLoss,
)

from segengine.losses import L1DiceFocalLoss, build_loss, l1_weights  # noqa: E402

pytestmark = pytest.mark.engine


def _batch(shape=(2, 2, 12, 10, 8), seed=0, scale=2.0):
    gen = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(shape, generator=gen)
    labels = torch.randint(0, shape[1], (shape[0], 1, *shape[2:]), generator=gen).float()
    return logits, labels


def _one_hot(labels, n):
    return torch.nn.functional.one_hot(labels[:, 0].long(), n).movedim(-1, 1).float()


def paper_l1dfl(logits, labels, kappa, gamma=2.0, eps=1e-5, eps_nr=0.0):
    """L1DFL written from the L1DFL paper (Dzikunu et al.), eq. 4-12, in float64 numpy.

    Eq. 4 Δ = |p - g|; eq. 5 centres B_k = kκ, K = 1/κ + 1; eq. 6-7 count of |B_k - Δ| ≤ κ/2;
    eq. 8 λ_k = min(B_k + κ/2, 1) - max(B_k - κ/2, 0); eq. 9 D_k = count_k / λ_k;
    eq. 10 w_k = N / D_k; eq. 11 weighted squared-denominator Dice (paper 1 eq. 14, ε in the
    denominator) per sample and class; eq. 12 plus the softmax focal loss (paper 1 eq. 13, α=1).
    """
    x = logits.double().numpy()
    n_classes = x.shape[1]
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    g = _one_hot(labels, n_classes).double().numpy() if labels.shape[1] == 1 else labels.numpy()
    delta = np.abs(p - g)
    n = delta.size
    n_bins = int(round(1 / kappa)) + 1
    w = np.zeros_like(delta)
    for k in range(n_bins):
        centre = k * kappa
        in_bin = np.abs(centre - delta) <= kappa / 2
        width = min(centre + kappa / 2, 1.0) - max(centre - kappa / 2, 0.0)
        density = in_bin.sum() / width
        if density > 0:
            w[in_bin] = n / density
    axes = tuple(range(2, x.ndim))
    s = (2 * (w * p * g).sum(axes) + eps_nr) / ((w * p**2).sum(axes) + (w * g**2).sum(axes) + eps)
    dice = 1 - s.mean()
    focal = -np.mean(g * (1 - p) ** gamma * np.log(p))
    return dice + focal


@pytest.mark.parametrize("kappa", [0.1, 0.05])
@pytest.mark.parametrize("seed", [0, 1])
def test_l1dfl_matches_paper_equations(kappa, seed):
    logits, labels = _batch(seed=seed)
    got = L1DiceFocalLoss(bin_width=kappa)(logits, labels)
    assert float(got) == pytest.approx(paper_l1dfl(logits, labels, kappa), rel=1e-5)


def test_l1dfl_three_classes_and_2d_match_paper_equations():
    logits, labels = _batch(shape=(3, 3, 16, 12), seed=4)
    got = L1DiceFocalLoss(bin_width=0.1)(logits, labels)
    assert float(got) == pytest.approx(paper_l1dfl(logits, labels, 0.1), rel=1e-5)


def test_l1dfl_reference_mode_uses_code_smoothing():
    # pca_segment L1DFL (seed_code.md §4.2): smoothing 1e-8 in numerator and denominator
    logits, labels = _batch(seed=2)
    got = L1DiceFocalLoss(bin_width=0.05, compat="reference")(logits, labels)
    want = paper_l1dfl(logits, labels, 0.05, eps=1e-8, eps_nr=1e-8)
    assert float(got) == pytest.approx(want, rel=1e-5)


def test_l1dfl_uniform_l1_norms_reduce_to_squared_dice_plus_focal():
    # Counts proportional to the effective widths (1/2, 1, ..., 1, 1/2) give D_k = N, so w = 1
    # and the loss is MONAI's squared-denominator Dice + softmax focal (the paper's remark
    # after eq. 11).
    kappa, m = 0.1, 8
    deltas = [0.01] * m
    for k in range(1, 10):
        deltas += [k * kappa + 0.01] * (2 * m)
    deltas += [0.98] * m
    p1 = torch.tensor(deltas).reshape(1, 1, -1, 4)  # every label 0, so Δ = p1
    logits = torch.cat([torch.zeros_like(p1), torch.log(p1 / (1 - p1))], dim=1)
    labels = torch.zeros_like(p1)
    w = l1_weights(p1, kappa)
    torch.testing.assert_close(w, torch.ones_like(w), rtol=1e-5, atol=0)
    dice = DiceLoss(to_onehot_y=True, softmax=True, squared_pred=True, smooth_nr=0.0)
    focal = FocalLoss(to_onehot_y=True, use_softmax=True, gamma=2.0)
    want = dice(logits, labels) + focal(logits, labels)
    torch.testing.assert_close(L1DiceFocalLoss(bin_width=kappa)(logits, labels), want)


def test_l1dfl_labels_and_one_hot_agree():
    logits, labels = _batch(seed=3)
    loss = L1DiceFocalLoss()
    torch.testing.assert_close(loss(logits, labels), loss(logits, _one_hot(labels, 2)))


def test_l1dfl_gradients_are_finite():
    logits, labels = _batch(seed=5, scale=50.0)  # saturated softmax
    logits.requires_grad_(True)
    L1DiceFocalLoss()(logits, labels).backward()
    assert torch.isfinite(logits.grad).all()
    assert logits.grad.abs().sum() > 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_l1dfl_half_precision_is_computed_in_fp32(dtype):
    logits, labels = _batch(seed=6)
    low = logits.to(dtype)
    got = L1DiceFocalLoss()(low.requires_grad_(True), labels)
    assert got.dtype == torch.float32
    want = L1DiceFocalLoss()(low.float(), labels)
    torch.testing.assert_close(got, want)


def test_l1dfl_weights_carry_no_gradient():
    delta = torch.rand(100, requires_grad=True)
    assert not l1_weights(delta, 0.1).requires_grad


@pytest.mark.parametrize("kappa", [0.3, 0.15, 0.0, 1.5])
def test_l1dfl_rejects_bin_width_without_integer_inverse(kappa):
    with pytest.raises(ValueError, match="bin_width"):
        L1DiceFocalLoss(bin_width=kappa)


def test_l1dfl_shape_errors_quote_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 2, 4, 4\).*\(2, 1, 4, 5\)"):
        L1DiceFocalLoss()(torch.zeros(2, 2, 4, 4), torch.zeros(2, 1, 4, 5))


def _monai_cases():
    # MONAI classes configured by hand as in seed_code.md §4.1 and §4.3
    return [
        ("dice", None, DiceLoss(to_onehot_y=True, softmax=True)),
        ("dice_ce", None, DiceCELoss(to_onehot_y=True, softmax=True)),
        ("dice_focal", "reference", DiceFocalLoss(to_onehot_y=True, softmax=True)),
        (
            "gdfl",
            None,
            GeneralizedDiceFocalLoss(to_onehot_y=True, softmax=True, weight=[1.0, 100.0]),
        ),
    ]


@pytest.mark.parametrize("case", range(4))
@pytest.mark.parametrize("one_hot", [False, True])
def test_monai_losses_match_hand_configured(case, one_hot):
    name, compat, reference = _monai_cases()[case]
    logits, labels = _batch(seed=7)
    target = _one_hot(labels, 2) if one_hot else labels
    got = build_loss(name, compat=compat)(logits, target)
    torch.testing.assert_close(got, reference(logits, labels))


def test_dice_focal_paper_is_dice_plus_softmax_focal():
    # paper 1 eq. 12-13: softmax focal with alpha = 1 (MONAI DiceFocalLoss uses a sigmoid focal)
    logits, labels = _batch(seed=8)
    dice = DiceLoss(to_onehot_y=True, softmax=True)
    focal = FocalLoss(to_onehot_y=True, use_softmax=True, gamma=2.0)
    got = build_loss("dice_focal")(logits, labels)
    torch.testing.assert_close(got, dice(logits, labels) + focal(logits, labels))
    sigmoid = build_loss("dice_focal", compat="reference")(logits, labels)
    assert not torch.isclose(got, sigmoid)


@pytest.mark.parametrize("name", ["dice_focal", "l1dfl"])
def test_compat_paper_is_none_with_a_future_warning(name):
    # compat="paper" was segengine's spelling of the papers' behaviour; it now means None
    logits, labels = _batch(seed=9)
    with pytest.warns(FutureWarning, match="compat='paper' is deprecated"):
        old = build_loss(name, compat="paper")
    torch.testing.assert_close(old(logits, labels), build_loss(name)(logits, labels))
    with pytest.warns(FutureWarning):
        assert L1DiceFocalLoss(compat="paper").compat is None
    with pytest.raises(ValueError, match="compat must be None or 'reference'"):
        build_loss(name, compat="code")


def test_build_loss_passes_keywords():
    loss = build_loss("l1dfl", bin_width=0.05, gamma=0.0)
    assert (loss.bin_width, loss.gamma) == (0.05, 0.0)


def test_build_loss_unknown_name():
    with pytest.raises(ValueError, match="did you mean 'l1dfl'"):
        build_loss("l1dlf")
