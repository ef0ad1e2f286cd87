"""The paper's small experiments: their rows, budgets and the physics they are meant to show."""

import numpy as np
import pandas as pd
import pytest

from bptt_bench.experiments.derivative_free import COLUMNS, derivative_free
from bptt_bench.experiments.truncated_norms import truncated_norms
from bptt_bench.paper.experiments import EXPERIMENTS, run


def test_derivative_free_spends_its_budget_on_every_optimizer():
    rows = pd.DataFrame(derivative_free(seeds=(0,), budget_s=0.2, every_s=0.05, T=12, n_train=8, batch=4,
                                        n_eval=8))
    assert list(rows.columns) == COLUMNS
    for name, curve in rows.groupby("optimizer"):
        assert curve["wall_s"].max() >= 0.2 and curve["wall_s"].max() < 1.0, name  # stopped at the budget
        assert curve["wall_s"].is_monotonic_increasing and curve["evaluations"].iloc[-1] > 0
        assert np.isfinite(curve["loss"]).all()
    assert set(rows["optimizer"]) == {"bptt_sgd", "powell", "es"}


def test_derivative_free_rejects_unknown_optimizer_and_budget():
    with pytest.raises(ValueError, match="optimizer"):
        derivative_free(optimizers=("adam",))
    with pytest.raises(ValueError, match="budget_s"):
        derivative_free(budget_s=0)


def test_truncation_bounds_the_gradient_where_bptt_explodes():
    rows = pd.DataFrame(truncated_norms(radii=(0.5, 3.0), ks=(4,), seeds=(0,), T=64, H=16, B=4))
    norm = rows.set_index(["radius", "method"])["grad_norm"]
    assert norm[(3.0, "bptt")] > 100 * norm[(0.5, "bptt")]
    assert norm[(3.0, "tbptt")] < norm[(3.0, "bptt")] / 100


def test_every_experiment_writes_its_columns():
    table = run("truncated_norms", dict(radii=[1.0], ks=[2], seeds=[0], T=4, H=4, B=2))
    assert list(table.columns) == EXPERIMENTS["truncated_norms"][1] and len(table) == 2


def test_truncated_norms_figure_draws_each_setting_in_the_study_colour(tmp_path, monkeypatch):
    """A setting the study already draws (BPTT, TBPTT(4, 4)) keeps its colour in the paper's figure."""
    import matplotlib.colors

    from bptt_bench.figures.style import SettingStyle
    from bptt_bench.paper import figures

    drawn = {}
    original = figures.save_figure

    def keep(fig, stem):
        drawn.update({line.get_label(): matplotlib.colors.to_hex(line.get_color()) for line in fig.axes[0].lines})
        return original(fig, stem)

    look = SettingStyle(["TBPTT(16, 16)", "BPTT", "TBPTT(4, 4)"])
    rows = pd.DataFrame(truncated_norms(radii=(0.5, 2.0), ks=(4,), seeds=(0,), T=16, H=4, B=2))
    monkeypatch.setattr(figures, "save_figure", keep)
    figures.plot_truncated_norms(rows, tmp_path / "norms", look)
    assert drawn == {name: matplotlib.colors.to_hex(look.colour(name)) for name in ("BPTT", "TBPTT(4, 4)")}


def test_derivative_free_figure_keeps_the_curves_readable_when_a_run_blows_up():
    from bptt_bench.paper.figures import draw_derivative_free

    base = dict(budget_s=1.0, task="echo", T=32, H=4, n_params=38, baseline_loss=0.66, evaluations=1)
    rows = [base | dict(optimizer=name, seed=0, wall_s=t, loss=loss)
            for name, losses in (("bptt_sgd", (0.8, 0.55, 9.0)), ("powell", (0.8, 0.6, 0.55)))
            for t, loss in zip((0.0, 0.5, 1.0), losses)]
    ax = draw_derivative_free(pd.DataFrame(rows)).axes[0]
    assert ax.get_ylim()[1] == pytest.approx(1.15 * 0.8)  # just above the worst start, not at 9 nats
    assert any("above the axis (1 point, up to 9 nats)" in t.get_text() for t in ax.get_legend().get_texts())
    calm = pd.DataFrame([r | dict(loss=min(r["loss"], 0.7)) for r in rows])
    assert not any("above the axis" in t.get_text() for t in draw_derivative_free(calm).axes[0].get_legend().get_texts())
