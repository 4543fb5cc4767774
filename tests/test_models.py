"""Model registry: shapes, ranges, init, GP-safe critics, clear errors, and that the toy pair can learn."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import torch
from torch import nn

from ganterm.config import MODEL_NAMES
from ganterm.errors import UsageError
from ganterm.models.base import count_parameters
from ganterm.models.catalog import MODELS, build_models


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny MLPs gain nothing from intra-op threads, and on a busy 2-core box two threads ran 16x slower."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


CASES = [
    ("mlp", (1, 28, 28)),
    ("mlp", (3, 28, 28)),
    ("dcgan", (1, 28, 28)),
    ("dcgan", (3, 28, 28)),
    ("dcgan", (1, 32, 32)),
    ("dcgan", (3, 32, 32)),
    ("dcgan", (1, 64, 64)),
    ("dcgan", (3, 64, 64)),
    ("toy", (2,)),
]


def test_registry_matches_config_names() -> None:
    assert set(MODELS) == set(MODEL_NAMES)


@pytest.mark.parametrize(("name", "shape"), CASES)
def test_shapes_and_range(name: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    G, D = build_models(name, shape, 20)
    z = torch.randn(5, 20)
    x = G(z)
    assert x.shape == (5, *shape)
    if name != "toy":  # images live in [-1, 1]; toy points are unbounded like their data
        assert x.min() >= -1 and x.max() <= 1
    logits = D(x)
    assert logits.shape == (5,)
    # Raw logits: nothing squashes D's output into (0, 1).
    big = D(torch.full((5, *shape), 1.0)) * 1000
    assert torch.isfinite(big).all()


def test_mlp_generator_saturates_at_the_data_range() -> None:
    G, _ = build_models("mlp", (1, 28, 28), 8)
    x = G(torch.randn(3, 8) * 1e4)
    assert x.min() >= -1 and x.max() <= 1


def test_mlp_layers_are_the_classic_ones() -> None:
    G, D = build_models("mlp", (1, 28, 28), 100)
    linears = [m for m in G.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(100, 128), (128, 128), (128, 784)]
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (1, 64, (5, 5), (2, 2)),
        (64, 128, (5, 5), (2, 2)),
    ]


def test_dcgan_init() -> None:
    torch.manual_seed(0)
    G, D = build_models("dcgan", (3, 64, 64), 100)
    convs = [m for m in [*G.modules(), *D.modules()] if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    weights = torch.cat([m.weight.flatten() for m in convs])
    assert abs(weights.mean().item()) < 1e-3
    assert weights.std().item() == pytest.approx(0.02, rel=0.05)
    bn = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, nn.BatchNorm2d)])
    assert bn.mean().item() == pytest.approx(1.0, abs=0.01)
    assert bn.std().item() == pytest.approx(0.02, rel=0.2)


def test_dcgan_critic_first_layer_has_no_norm() -> None:
    _, D = build_models("dcgan", (3, 32, 32), 16)
    layers = list(D.net)
    assert isinstance(layers[0], nn.Conv2d) and isinstance(layers[1], nn.LeakyReLU)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == 2


@pytest.mark.parametrize("norm", ["layer", "none"])
def test_norm_options_have_no_batch_norm(norm: str) -> None:
    _, D = build_models("dcgan", (1, 28, 28), 16, norm=norm)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())


@pytest.mark.parametrize(("name", "shape"), CASES)
def test_gp_safe_critic_scores_each_sample_alone(name: str, shape: tuple[int, ...]) -> None:
    """The gradient penalty needs D(x_i) to depend on x_i only, even in train mode."""
    torch.manual_seed(0)
    _, D = build_models(name, shape, 16, gp_safe=True)
    D.train()
    x = torch.randn(6, *shape)
    together = D(x)
    alone = torch.stack([D(x[i : i + 1])[0] for i in range(6)])
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)


def test_batch_norm_critic_mixes_samples() -> None:
    """The control for the test above: the default dcgan D does mix the batch."""
    torch.manual_seed(0)
    _, D = build_models("dcgan", (1, 28, 28), 16)
    D.train()
    x = torch.randn(6, 1, 28, 28)
    assert not torch.allclose(D(x)[:3], D(x[:3]), atol=1e-4)


def test_gp_safe_refuses_batch_norm() -> None:
    with pytest.raises(UsageError, match="layer"):
        build_models("dcgan", (3, 32, 32), 16, gp_safe=True, norm="batch")


@pytest.mark.parametrize(
    ("name", "shape", "kw", "needle"),
    [
        ("gan9000", (1, 28, 28), {}, "choose one of: mlp, dcgan, toy"),
        ("mlp", (3, 64, 64), {}, "--model dcgan"),
        ("mlp", (2,), {}, "--model toy"),
        ("dcgan", (3, 48, 48), {}, "28, 32 or 64"),
        ("dcgan", (3, 32, 16), {}, "square"),
        ("dcgan", (4, 32, 32), {}, "--channels"),
        ("toy", (1, 28, 28), {}, "mlp or dcgan"),
        ("dcgan", (3, 32, 32), {"norm": "group"}, "batch, layer, none"),
        ("toy", (2,), {"ngf": 8}, "hidden"),
        ("toy", (2,), {"pack": 0}, "pack must be a positive integer"),
    ],
)
def test_usage_errors_say_what_to_use(name: str, shape: tuple[int, ...], kw: dict, needle: str) -> None:
    with pytest.raises(UsageError) as err:
        build_models(name, shape, 16, **kw)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_z_dim() -> None:
    with pytest.raises(UsageError, match="z-dim"):
        build_models("toy", (2,), 0)


def test_packed_toy_critic_scores_groups_jointly() -> None:
    _, D = build_models("toy", (2,), 16, pack=4, d_hidden=8)
    x = torch.randn(12, 2)
    assert D(x).shape == (3,)  # one logit per group of 4 points
    assert D.net[0].in_features == 8 and D.net[0].out_features == 8
    swapped = x.clone()
    swapped[[0, 4]] = x[[4, 0]]  # move a point into another group: both groups' scores change
    out, out_swapped = D(x), D(swapped)
    assert not torch.allclose(out[:2], out_swapped[:2]) and torch.equal(out[2], out_swapped[2])


def test_count_parameters() -> None:
    assert count_parameters(nn.Linear(3, 4)) == 16
    G, D = build_models("toy", (2,), 16, hidden=8)
    # G: 16*8+8, 8*8+8, 8*8+8, 8*2+2; D: 2*8+8, 8*8+8, 8*8+8, 8+1
    assert count_parameters(G) == 136 + 72 + 72 + 18
    assert count_parameters(D) == 24 + 72 + 72 + 9


@pytest.mark.usefixtures("one_thread")
def test_toy_pair_learns_a_shifted_gaussian() -> None:
    """A few hundred ns steps move G's output onto data far from where it starts."""
    from ganterm.algos.losses import get_loss

    torch.manual_seed(0)
    G, D = build_models("toy", (2,), 8, hidden=32)
    loss = get_loss("ns")
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    target = torch.tensor([2.0, -1.0])
    start = G(torch.randn(512, 8)).mean(0).detach()
    for _ in range(400):
        real = target + 0.1 * torch.randn(128, 2)
        fake = G(torch.randn(128, 8))
        opt_d.zero_grad()
        loss.d_loss(D(real), D(fake.detach())).backward()
        opt_d.step()
        opt_g.zero_grad()
        loss.g_loss(D(fake)).backward()
        opt_g.step()
    with torch.no_grad():
        end = G(torch.randn(512, 8)).mean(0)
    assert (start - target).norm() > 1.5
    assert (end - target).norm() < 0.3


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_toy_pair_reaches_every_ring_mode() -> None:
    """A plain toy pair (ns, Adam 1e-3 for both, batch 256, z 16) captures 8/8 ring modes in 3000 steps."""
    from ganterm.algos.losses import get_loss
    from ganterm.data.toy import ring
    from ganterm.eval.toy import PACGAN_N, score_toy

    torch.manual_seed(0)
    data, gen = ring(), torch.Generator().manual_seed(1)
    G, D = build_models("toy", data.shape, 16)
    loss = get_loss("ns")
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    best = 0
    for step in range(1, 3001):
        real = data.sample(256, gen)
        fake = G(torch.randn(256, 16, generator=gen))
        opt_d.zero_grad()
        loss.d_loss(D(real), D(fake.detach())).backward()
        opt_d.step()
        opt_g.zero_grad()
        loss.g_loss(D(fake)).backward()
        opt_g.step()
        if step % 250 == 0:
            with torch.no_grad():
                points = G(torch.randn(PACGAN_N, 16, generator=gen)).numpy()
            best = max(best, score_toy(points, data.info["modes"], data.info["std"]).modes)
    assert best == 8


def test_importing_the_trainer_modules_leaves_the_ui_out() -> None:
    code = (
        "import sys, ganterm.models.catalog, ganterm.algos.losses, ganterm.training.health\n"
        "bad = [m for m in ('textual', 'rich') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_toy_scale_standardises_both_nets() -> None:
    """At scale s, G's output is s times its net's and D scores x as its net scores x / s."""
    torch.manual_seed(0)
    G1, D1 = build_models("toy", (2,), 4, hidden=8)
    G4, D4 = build_models("toy", (2,), 4, hidden=8, scale=4.0)
    G4.load_state_dict(G1.state_dict())
    D4.load_state_dict(D1.state_dict())
    z, x = torch.randn(5, 4), torch.randn(5, 2)
    torch.testing.assert_close(G4(z), 4.0 * G1(z))
    torch.testing.assert_close(D4(4.0 * x), D1(x))
    with pytest.raises(UsageError, match="scale"):
        build_models("toy", (2,), 4, scale=0.0)
