"""The GAN, trained adversarially: G against D with any loss (swappable mid-run), R1, DiffAugment and
instance noise.

One step is n_critic D updates then one G update. Hooks (`_real_logits`, `_fake_terms`, `_d_fn`) are
where the conditional and InfoGAN variants differ; the step itself is written once.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ganterm.algos.augment import DiffAugment
from ganterm.algos.base import Algorithm, StepContext, frozen, grad_norm
from ganterm.algos.losses import GANLoss, get_loss, gradient_penalty, r1_penalty
from ganterm.algos.prior import Latent, LatentPrior
from ganterm.channel.layout import GAN_LAYOUT, Layout
from ganterm.config import TrainConfig
from ganterm.models.catalog import build_models

GAN_METRICS = ("d_loss", "g_loss", "d_real", "d_fake", "grad_g", "grad_d")


class GAN(Algorithm):
    name: ClassVar[str] = "gan"
    layout: ClassVar[Layout] = GAN_LAYOUT

    def __init__(self, cfg: TrainConfig, shape: tuple[int, ...], n_classes: int = 0) -> None:
        self.cfg, self.shape = cfg, tuple(shape)
        self.loss: GANLoss = get_loss(str(cfg.loss))
        self.gp_safe = cfg.loss == "wgan-gp"  # fixed at the start: it decides D's norm
        self.n_critic = int(cfg.n_critic or self.loss.n_critic)
        self.augment = DiffAugment(cfg.augment)
        self.prior = self.make_prior(cfg, n_classes)
        self.metrics = GAN_METRICS + self.extra_metrics()

    def make_prior(self, cfg: TrainConfig, n_classes: int) -> LatentPrior:
        return LatentPrior(int(cfg.z_dim))

    def extra_metrics(self) -> tuple[str, ...]:
        return ()

    # -- networks --------------------------------------------------------------------------------
    def build_pair(self, z_in: int) -> tuple[nn.Module, nn.Module]:
        if self.networks is not None:
            return self.networks  # handed in (ganterm.fit); cGAN and InfoGAN wrap them as they would ours
        return build_models(
            str(self.cfg.model),
            self.shape,
            z_in,
            gp_safe=self.gp_safe,
            trusted=self.cfg.trusted_model,  # a model file runs only when this command line named it
            **(self.cfg.model_options or {}),
        )

    def build(self) -> dict[str, nn.Module]:
        G, D = self.build_pair(self.prior.input_dim)
        return {"G": G, "D": D}

    def optimizer_groups(self) -> dict[str, tuple[tuple[str, ...], float]]:
        return {"G": (("G",), float(self.cfg.lr_g)), "D": (("D",), float(self.cfg.lr_d))}

    def d_networks(self) -> tuple[str, ...]:
        """The networks D's optimizer updates (InfoGAN adds Q)."""
        return ("D",)

    def setup(self, state: Any) -> None:
        self.g_params = state.params("G")
        self.d_params = state.params(*self.d_networks())
        self.d_only = state.params("D")  # WGAN's clip applies to the critic itself

    # -- the loss --------------------------------------------------------------------------------
    def swap_loss(self, name: str, keep_n_critic: bool) -> str:
        old = self.loss.name
        self.loss = get_loss(name)  # UsageError for an unknown name
        if not keep_n_critic:
            self.n_critic = self.loss.n_critic
        return old

    def restore_extra(self, ckpt: dict[str, Any], loss_given: bool) -> None:
        name = ckpt.get("loss_name")
        if name and name != self.loss.name and not loss_given:
            self.loss = get_loss(str(name))
        self.n_critic = int(ckpt.get("n_critic", self.n_critic))

    def state_extra(self) -> dict[str, Any]:
        return {"loss_name": self.loss.name, "n_critic": self.n_critic, "gp_safe": self.gp_safe}

    # -- hooks -----------------------------------------------------------------------------------
    def condition(self, latent: Latent, y: torch.Tensor | None) -> Latent:
        """The latent a fake batch is drawn with, given the real batch's labels."""
        return latent

    def _real_logits(self, state: Any, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return state["D"](x)

    def _fake_terms(
        self, state: Any, x: torch.Tensor, latent: Latent, for_g: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor]]:
        """D's logits on generated inputs, plus an extra loss term and metrics (InfoGAN's MI)."""
        return state["D"](x), None, {}

    def _d_fn(self, state: Any, y: torch.Tensor | None) -> Any:
        """D as a function of x alone, for the penalties' autograd.grad."""
        return state["D"]

    def _d_input(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return self.augment(x, gen) if self.augment else x

    # -- the step --------------------------------------------------------------------------------
    def step(self, state: Any, ctx: StepContext) -> torch.Tensor:
        loss, gen, dev = self.loss, state.gen, ctx.device
        B = ctx.batch_size
        sigma = ctx.instance_noise
        fake_noise: torch.Tensor | None = None
        extra: dict[str, torch.Tensor] = {}

        def noise_like(x: torch.Tensor) -> torch.Tensor:
            return torch.randn(x.shape, generator=gen, device=gen.device).to(dev)

        for _ in range(self.n_critic):
            # -- Update D: make it score real data high and generated data low (per the loss) --
            real, y = ctx.batch(B)
            latent = self.condition(self.prior.draw(B, gen, dev), y)
            real_in = self._d_input(real, gen)
            if sigma:
                real_in = real_in + sigma * noise_like(real)
                fake_noise = sigma * noise_like(real)
            with ctx.autocast_ctx():
                fake = self.generate(state.modules, latent)
                real_logits = self._real_logits(state, real_in, y).float()
                fake_in = self._d_input(fake.detach(), gen)
                fake_in = fake_in if fake_noise is None else fake_in + fake_noise
                fake_logits, d_extra, _ = self._fake_terms(state, fake_in, latent, for_g=False)
                fake_logits = fake_logits.float()
            loss_d = loss.d_loss(real_logits, fake_logits)
            if d_extra is not None:
                loss_d = loss_d + d_extra
            d_fn = self._d_fn(state, y)
            if loss.gp_weight:
                loss_d = loss_d + loss.gp_weight * gradient_penalty(d_fn, real, fake.detach().float(), gen)
            every = int(self.cfg.r1_every or 1)
            if self.cfg.r1 and ctx.step % every == 0:
                # lazy (StyleGAN2): every k-th step at k times the weight costs 1/k of the double backward
                loss_d = loss_d + 0.5 * float(self.cfg.r1) * every * r1_penalty(d_fn, real_in)
            if ctx.inject_nan:
                loss_d = loss_d * float("nan")  # fault injection for tests (--inject-nan-at)
            opt_d = state.optimizers["D"]
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            gn_d = grad_norm(self.d_params)
            opt_d.step()
            if loss.clip:
                with torch.no_grad():
                    torch._foreach_clamp_min_(self.d_only, -loss.clip)
                    torch._foreach_clamp_max_(self.d_only, loss.clip)

        # -- Update G: make D score the generated batch as real (reuses the last critic step's fake) --
        # D's weights are frozen for this pass: their gradients would be thrown away by the next D step's
        # zero_grad, and skipping them saves a third of D's backward (G's gradient is the same).
        with frozen(self.d_params):
            with ctx.autocast_ctx():
                fake_g = self._d_input(fake, gen)
                fake_g = fake_g if fake_noise is None else fake_g + fake_noise
                logits_g, g_extra, extra = self._fake_terms(state, fake_g, latent, for_g=True)
                logits_g = logits_g.float()
            loss_g = loss.g_loss(logits_g)
            if g_extra is not None:
                loss_g = loss_g + g_extra
            opt_g = state.optimizers["G"]
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
        gn_g = grad_norm(self.g_params)
        opt_g.step()
        with torch.no_grad():
            row = [
                loss_d.detach().float(),
                loss_g.detach().float(),
                loss.score(real_logits.detach()).float(),
                loss.score(fake_logits.detach()).float(),
                gn_g.float().to(loss_d.device),
                gn_d.float().to(loss_d.device),
            ]
            row += [extra[name].detach().float() for name in self.extra_metrics()]
            return torch.stack(row)
