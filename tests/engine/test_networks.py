"""Networks: each builds, runs forward on CPU and has the documented parameter count."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from segengine.networks import (  # noqa: E402
    NETWORKS,
    PARAMETER_COUNTS,
    build_network,
    count_parameters,
)

pytestmark = pytest.mark.engine

# Counts documented in docs/engine.md ("Networks"); resunet is the number printed in both
# autoPET papers (Ahamed et al. 2023, 2024), the others were counted with MONAI 1.6.1 and
# agree with ../shared/notes/seed_code.md §3 (unet there with the code's PReLU: 19,289,401).
DOCUMENTED = {
    "unet": 19_289_380,
    "attention_unet": 5_909_562,
    "segresnet": 4_701_346,
    "resunet": 19_223_525,
    "unetr": 96_177_826,
}

SMALL_INPUT = {  # edge divisible by each network's total stride
    "unet": {},
    "attention_unet": {},
    "segresnet": {},
    "resunet": {},
    "unetr": {"img_size": (32, 32, 32)},
}


def test_registry_has_the_five_networks():
    assert set(NETWORKS) == set(DOCUMENTED) == set(PARAMETER_COUNTS)


def _needs(name):
    if name == "unetr":
        pytest.importorskip("einops")  # MONAI's ViT blocks use einops


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_default_parameter_count(name):
    _needs(name)
    assert count_parameters(build_network(name)) == DOCUMENTED[name] == PARAMETER_COUNTS[name]


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_forward_small_input(name):
    _needs(name)
    net = build_network(name, **SMALL_INPUT[name]).eval()
    x = torch.randn(1, 2, 32, 32, 32)
    with torch.no_grad():
        y = net(x)
    assert y.shape == (1, 2, 32, 32, 32)
    assert torch.isfinite(y).all()


def test_code_configurations_as_overrides():
    # seed_code.md §3: the published code's U-Net (PReLU) and Attention U-Net (16..512)
    assert count_parameters(build_network("unet", act="PRELU")) == 19_289_401
    att = build_network("attention_unet", channels=(16, 32, 64, 128, 256, 512), strides=(2,) * 5)
    assert count_parameters(att) == 23_674_814


def test_two_dimensional_override():
    net = build_network("segresnet", spatial_dims=2, in_channels=2, out_channels=3).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 2, 16, 16)).shape == (1, 3, 16, 16)


def test_unknown_name_suggests_close_match():
    with pytest.raises(ValueError, match="did you mean 'attention_unet'"):
        build_network("attention_net")


def test_unknown_override_is_a_value_error():
    with pytest.raises(ValueError, match="did you mean 'channels'"):
        build_network("unet", chanels=(4, 8))


def test_count_parameters_trainable_only():
    net = torch.nn.Linear(3, 2)
    net.bias.requires_grad_(False)
    assert count_parameters(net) == 6
    assert count_parameters(net, trainable_only=False) == 8
