"""The TUI for cgan, infogan and vae: their charts, the traversal / class / reconstruction views and keys."""

from __future__ import annotations

from test_tui_fixtures import algo_app, sync

from ganterm.channel.control import Control
from ganterm.tui.widgets.charts import ChartView
from ganterm.tui.widgets.samples import SamplePanel


def test_infogan_traversal_view(snap_compare):
    assert snap_compare(algo_app("infogan"), terminal_size=(120, 40), press=["t"])


def test_cgan_grid_has_one_row_per_class(snap_compare):
    assert snap_compare(algo_app("cgan"), terminal_size=(120, 40))


def test_vae_charts_and_reconstructions(snap_compare):
    assert snap_compare(algo_app("vae"), terminal_size=(120, 40), press=["e"])


@sync
async def test_keys_ask_the_trainer_for_views_and_cycle_codes():
    control = Control()
    app = algo_app("infogan", control)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await pilot.press("t")
        assert screen.sample_view == {"view": "traversal", "code": 0}
        panel = screen.query_one(SamplePanel)
        assert panel.caption.startswith("traversal · step 400 · rows: c_cat")
        await pilot.press("t")
        assert screen.sample_view == {"view": "traversal", "code": 1}
        await pilot.press("t")  # two codes: a third press goes back to the grid
        assert screen.sample_view is None
        await pilot.press("k")
        assert screen.sample_view == {"view": "class", "class": 0}
        sent = [c.args.get("spec") for c in control.drain() if c.name == "view"]
        assert sent == [
            {"view": "traversal", "code": 0},
            {"view": "traversal", "code": 1},
            None,
            {"view": "class", "class": 0},
        ]
        # The second chart cycles through the layout's groups: MI (with H(c)), D(x), grad norms.
        aux = screen.query_one("#aux-chart", ChartView)
        titles = []
        for _ in range(3):
            titles.append(aux.group().title)
            await pilot.press("g")
        assert titles == ["mutual information", "D(x) vs D(G(z))", "grad norm"]
        assert aux.group().title == "mutual information"


@sync
async def test_a_vae_has_no_loss_to_swap_and_no_traversal():
    control = Control()
    app = algo_app("vae", control)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("l")
        await pilot.press("t")
        await pilot.pause()
        assert not [c for c in control.drain() if c.name in ("swap_loss", "view")]
        notes = [n.message for n in app._notifications]
        assert any("no GAN loss" in m for m in notes) and any("InfoGAN" in m for m in notes)
        loss_chart = app.screen.query_one("#loss-chart", ChartView)
        assert [c[0] for c in loss_chart.columns()] == ["recon", "kl"]
