"""Losses on logits: sign conventions, the point of ns, stability at extremes, the gradient penalty."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from ganterm.algos.losses import LOSSES, get_loss, gradient_penalty
from ganterm.config import LOSS_NAMES
from ganterm.errors import UsageError

NAMES = list(LOSSES)


def test_registry_matches_config_names() -> None:
    assert set(LOSSES) == set(LOSS_NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_d_loss_prefers_a_discriminator_that_is_right(name: str) -> None:
    loss = get_loss(name)
    high, low = torch.full((8,), 0.9), torch.full((8,), -0.9)
    right = loss.d_loss(high, low)
    wrong = loss.d_loss(low, high)
    assert right < wrong


@pytest.mark.parametrize("name", NAMES)
def test_g_loss_falls_as_fakes_look_real(name: str) -> None:
    loss = get_loss(name)
    # Up to 0.5: LSGAN's G target is 1, past which its loss rises again by design.
    values = [loss.g_loss(torch.full((4,), v)).item() for v in (-5.0, -2.0, -0.5, 0.0, 0.5)]
    assert all(a > b for a, b in itertools.pairwise(values))


def test_objectives_match_their_definitions() -> None:
    real, fake = torch.tensor([0.3, 2.0]), torch.tensor([-1.0, 0.5])
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    bce_d = -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())
    torch.testing.assert_close(get_loss("ns").d_loss(real, fake), bce_d)
    torch.testing.assert_close(get_loss("minimax").d_loss(real, fake), bce_d)
    torch.testing.assert_close(get_loss("ns").g_loss(fake), -torch.log(d_fake).mean())
    torch.testing.assert_close(get_loss("minimax").g_loss(fake), torch.log(1 - d_fake).mean())
    lsgan = get_loss("lsgan")
    torch.testing.assert_close(
        lsgan.d_loss(real, fake), 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()
    )
    torch.testing.assert_close(lsgan.g_loss(fake), 0.5 * ((fake - 1) ** 2).mean())
    for name in ("wgan", "wgan-gp"):
        torch.testing.assert_close(get_loss(name).d_loss(real, fake), fake.mean() - real.mean())
        torch.testing.assert_close(get_loss(name).g_loss(fake), -fake.mean())
    hinge = get_loss("hinge")
    torch.testing.assert_close(hinge.d_loss(real, fake), torch.tensor((0.7 + 0.0) / 2 + (0.0 + 1.5) / 2))
    torch.testing.assert_close(hinge.g_loss(fake), -fake.mean())


def _g_grad(name: str, logit: float) -> float:
    fake = torch.tensor([logit], requires_grad=True)
    get_loss(name).g_loss(fake).backward()
    assert fake.grad is not None
    return abs(fake.grad.item())


def test_ns_gives_g_a_gradient_where_minimax_saturates() -> None:
    """When D confidently rejects fakes (D(G(z)) ~ 0.0025), minimax's G gradient all but vanishes."""
    ns, minimax = _g_grad("ns", -6.0), _g_grad("minimax", -6.0)
    assert minimax == pytest.approx(torch.sigmoid(torch.tensor(-6.0)).item(), rel=1e-4)
    assert ns > 0.99
    assert ns > 100 * minimax


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_finite_at_extreme_logits(name: str, sign: float) -> None:
    loss = get_loss(name)
    real = torch.full((4,), 100.0 * sign, requires_grad=True)
    fake = torch.full((4,), -100.0 * sign, requires_grad=True)
    d, g = loss.d_loss(real, fake), loss.g_loss(fake)
    assert math.isfinite(d.item()) and math.isfinite(g.item())
    (d + g).backward()
    assert real.grad is not None and fake.grad is not None
    assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()
    assert math.isfinite(loss.score(real).item())


def test_score() -> None:
    logits = torch.tensor([-2.0, 0.0, 4.0])
    for name in ("minimax", "ns"):
        assert get_loss(name).score(logits).item() == pytest.approx(torch.sigmoid(logits).mean().item())
    for name in ("lsgan", "wgan", "wgan-gp", "hinge"):
        assert get_loss(name).score(logits).item() == pytest.approx(2 / 3)


def test_attributes() -> None:
    table = {name: (x.n_critic, x.clip, x.gp_weight, x.probabilistic) for name, x in LOSSES.items()}
    assert table == {
        "minimax": (1, None, 0.0, True),
        "ns": (1, None, 0.0, True),
        "lsgan": (1, None, 0.0, False),
        "wgan": (5, 0.01, 0.0, False),
        "wgan-gp": (5, None, 10.0, False),
        "hinge": (1, None, 0.0, False),
    }


def test_get_loss_unknown_name_lists_choices() -> None:
    with pytest.raises(UsageError) as err:
        get_loss("wgan-xyz")
    assert "'wgan-xyz'" in str(err.value)
    assert "minimax, ns, lsgan, wgan, wgan-gp, hinge" in str(err.value)


def test_get_loss_returns_a_copy() -> None:
    loss = get_loss("wgan")
    loss.clip = 0.5
    assert get_loss("wgan").clip == 0.01


# ------------------------------------------------------------------------------------ gradient penalty
class Linear(nn.Module):
    """D(x) = <w, x>: its input gradient is w everywhere, so the penalty is known exactly."""

    def __init__(self, dim: int, scale: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.full((dim,), scale / math.sqrt(dim)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w


@pytest.mark.parametrize("shape", [(2,), (3, 8, 8)])
@pytest.mark.parametrize(("scale", "expected"), [(0.0, 1.0), (1.0, 0.0), (3.0, 4.0)])
def test_gradient_penalty_of_a_linear_critic(shape: tuple[int, ...], scale: float, expected: float) -> None:
    dim = math.prod(shape)
    D = Linear(dim, scale)
    gp = gradient_penalty(D, torch.randn(5, *shape), torch.randn(5, *shape))
    assert gp.item() == pytest.approx(expected, abs=1e-5)


def test_gradient_penalty_is_finite_for_a_constant_critic() -> None:
    """A zero input gradient is where torch.norm's backward gives NaN; ours must not."""
    D = Linear(2, 0.0)
    gp = gradient_penalty(D, torch.randn(8, 2), torch.randn(8, 2))
    weighted = get_loss("wgan-gp").gp_weight * gp
    assert weighted.item() == pytest.approx(10.0, abs=1e-4)
    weighted.backward()
    assert D.w.grad is not None and torch.isfinite(D.w.grad).all()


def test_gradient_penalty_is_finite_for_a_dead_relu_critic() -> None:
    D = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1), nn.Flatten(0))
    with torch.no_grad():
        D[0].bias.fill_(-1e3)  # every unit dead: D is constant and its input gradient exactly zero
    gp = gradient_penalty(D, torch.randn(8, 2), torch.randn(8, 2))
    gp.backward()
    assert gp.item() == pytest.approx(1.0, abs=1e-5)
    # A bias after the last nonlinearity has no say in the input gradient, so it gets no grad at all.
    grads = [p.grad for p in D.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


class Square(nn.Module):
    """D(x) = sum(x²): its gradient depends on where x̂ falls, so eps matters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x**2).flatten(1).sum(1)


def test_gradient_penalty_is_reproducible_with_a_generator() -> None:
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    a = gradient_penalty(Square(), real, fake, torch.Generator().manual_seed(3))
    b = gradient_penalty(Square(), real, fake, torch.Generator().manual_seed(3))
    c = gradient_penalty(Square(), real, fake, torch.Generator().manual_seed(4))
    assert a.item() == b.item()
    assert a.item() != c.item()


@pytest.mark.parametrize("train", [True, False])
def test_gradient_penalty_trains_d_only_in_any_mode(train: bool) -> None:
    from ganterm.models.catalog import build_models

    torch.manual_seed(0)
    G, D = build_models("dcgan", (1, 28, 28), 8, gp_safe=True)
    D.train(train)
    fake = G(torch.randn(4, 8))  # still attached to G's graph
    gp = gradient_penalty(D, torch.rand(4, 1, 28, 28) * 2 - 1, fake, torch.Generator().manual_seed(0))
    gp.backward()
    assert math.isfinite(gp.item())
    assert D.training is train
    assert all(p.grad is None for p in G.parameters())
    grads = [p.grad for p in D.parameters() if p.grad is not None]
    assert all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_r1_is_the_mean_squared_gradient_at_real_data() -> None:
    from ganterm.algos.losses import r1_penalty

    w = torch.tensor([[3.0], [4.0]])
    D = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        D.weight.copy_(w.T)
    real = torch.randn(16, 2)
    penalty = r1_penalty(lambda x: D(x).view(-1), real)
    assert penalty.item() == pytest.approx(25.0)  # |∇(3x + 4y)|² everywhere
    penalty.backward()  # create_graph: the penalty trains D (d/dw |w|² = 2w)
    assert torch.allclose(D.weight.grad, 2 * w.T)
    quad = r1_penalty(lambda x: (x**2).sum(1), torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
    assert quad.item() == pytest.approx((4 + 16) / 2)  # ∇ = 2x: |2x|², averaged over the batch
