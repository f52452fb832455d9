"""The figures' rules (``jaxrnn.plots.rules``), checked on what the plotting functions draw
(artists' data), not on pixels: intervals only over >= 3 seeds and inside the metric's domain,
categorical axes as points, identical curves drawn once, vanished values said, and the char
loss figure's training loss averaged per evaluation interval (numpy reference below)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer

from jaxrnn.io import runs
from jaxrnn.plots import char as plots_char
from jaxrnn.plots import rules
from jaxrnn.plots import sine as plots_sine
from jaxrnn.plots import sweep as plots_sweep
from jaxrnn.plots.labels import carry_grad_label, channel_names, fmt
from jaxrnn.sweep.report import aggregate, markdown_table

P = 0.975
T_975_DF2 = (2 * P - 1) / math.sqrt(2 * P * (1 - P))  # t_{0.975, 2} in closed form (3 seeds)


def _sweep(values_by_seed: list, metric: str):
    """A 2 x 2 grid (clip kind x learning rate) whose every point has the seeds' values."""
    grid = {"clip": ["none", "value"], "learning_rate": [0.1, 1.0]}
    rows = [{"run": i, "seed": s, "clip": c, "learning_rate": lr, metric: v}
            for i, (c, lr, (s, v)) in enumerate(
                (c, lr, sv) for c in grid["clip"] for lr in grid["learning_rate"]
                for sv in enumerate(values_by_seed))]
    agg = aggregate(rows, list(grid), [metric])
    return {"name": "t", "cases": []}, grid, rows, agg


def _panels(fig):
    return [ax for ax in fig.axes if ax.axison]


def _bars(ax) -> list:
    """(lo, hi) of every error bar drawn on ``ax``."""
    out = []
    for c in ax.containers:
        if isinstance(c, ErrorbarContainer):
            for seg in c.lines[2][0].get_segments():
                out.append((seg[0][1], seg[1][1]))
    return out


def _reference_interval(x):
    x = np.asarray(x, float)
    assert len(x) == 3
    half = T_975_DF2 * x.std(ddof=1) / math.sqrt(len(x))
    return x.mean() - half, x.mean() + half


def test_no_interval_under_three_seeds_and_seeds_drawn_as_points():
    spec, grid, rows, agg = _sweep([0.3, 0.9], "val_loss")
    fig = plots_sweep.final_figure(spec, grid, rows, agg, "val_loss")
    for ax in _panels(fig):
        assert _bars(ax) == []  # a 2-seed t-interval would be drawn here by the old code
        dots = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])
        assert sorted(dots) == sorted([0.3, 0.9] * 4)
    assert markdown_table(agg, list(grid), "val_loss").splitlines()[2].endswith("| – |")


@pytest.mark.parametrize("metric, values, domain", [
    ("bias_cos_final", [0.2, 0.99, 1.0], (-1.0, 1.0)),
    ("val_loss", [0.1, 0.1, 5.0], (0.0, math.inf)),
])
def test_interval_is_clipped_to_the_metric_domain(metric, values, domain):
    lo, hi = _reference_interval(values)
    assert lo < domain[0] or hi > domain[1]  # the raw interval leaves the domain
    want = (max(lo, domain[0]), min(hi, domain[1]))
    spec, grid, rows, agg = _sweep(values, metric)
    fig = plots_sweep.final_figure(spec, grid, rows, agg, metric)
    for ax in _panels(fig):
        bars = _bars(ax)
        assert len(bars) == 4
        np.testing.assert_allclose(bars, [want] * 4, rtol=1e-12)
    line = markdown_table(agg, list(grid), metric).splitlines()[2]
    assert line.endswith(f"[{fmt(want[0])}, {fmt(want[1])}] |")


def test_categorical_axis_drawn_as_points_numeric_as_lines():
    spec, grid, rows, agg = _sweep([0.3, 0.5, 0.9], "val_loss")
    by_clip, by_lr = _panels(plots_sweep.final_figure(spec, grid, rows, agg, "val_loss"))
    means = [ln for ln in by_clip.lines if ln.get_label().startswith("learning rate")]
    assert len(means) == 2 and all(ln.get_linestyle() == "None" for ln in means)
    xs = sorted(x for ln in means for x in ln.get_xdata())
    assert len(set(xs)) == 4  # two lines at each clip kind, dodged apart
    joined = [ln for ln in by_lr.lines if ln.get_label().startswith("gradient clipping")]
    assert len(joined) == 2 and all(ln.get_linestyle() == "-" for ln in joined)


def _curves(n_keys: int, differ: bool = False):
    x = np.arange(1, 6)
    v = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [1.5, 2.5, 3.5, 4.5, 5.5]])
    series = {("adam", lr): (x, v.copy()) for lr in range(n_keys)}
    if differ:
        series[("adam", 0)] = (x, v * 2)
    return series


def _labels(fig):
    return [ln.get_label() for ax in _panels(fig) for ln in ax.lines
            if not ln.get_label().startswith("_")]


def test_identical_curves_drawn_once():
    spec = {"name": "t"}
    fig = plots_sweep.band_figure(spec, ["optimizer", "lr"], "grad_h_init", _curves(4), "t")
    assert _labels(fig) == ["all 4 settings (identical curves, drawn once)"]
    fig = plots_sweep.band_figure(spec, ["optimizer", "lr"], "grad_h_init",
                                  _curves(4, differ=True), "t")
    assert _labels(fig) == ["optimiser adam, lr 0", "optimiser adam, lr 1 and 2 more (identical)"]
    assert rules.identical_groups(_curves(3, differ=True)) == [[("adam", 0)],
                                                                [("adam", 1), ("adam", 2)]]


def test_hidden_counts_diverged_seeds_and_zeros_on_a_log_axis():
    v = np.array([[np.nan, 0.0, 0.0, 1e-3, 1e-1],    # NaN at step 0 for every seed: no value
                  [np.nan, 0.0, 0.0, 2e-3, np.nan],  # diverged
                  [np.nan, 0.0, np.inf, 1.0, 2.0]])  # an inf: diverged
    assert rules.hidden(v, log=True) == {"diverged": 2, "zero_steps": [1, 2]}  # inf left out
    assert rules.hidden(v, log=False)["zero_steps"] == []
    assert rules.hidden(v[:1], log=True) == {"diverged": 0, "zero_steps": [1, 2]}


def test_band_figure_marks_zeros_and_diverged_runs():
    x = np.arange(1, 6)
    series = {("a",): (x, np.array([[0.0, 0.0, 1e-6, 1e-3, 1.0]] * 2)),
              ("b",): (x, np.array([[1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 2.0, np.nan, np.nan,
                                                               np.nan]]))}
    fig = plots_sweep.band_figure({"name": "t"}, ["init"], "grad_h_init", series, "t")
    labels = _labels(fig)
    assert "init a: exactly 0 up to 2 (not drawn on the log axis)" in labels
    assert "init b: 1 of 2 seeds diverged (x; left out)" in labels
    ax = _panels(fig)[0]
    marks = [ln for ln in ax.lines if ln.get_marker() == "x"]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [3]  # where seed 2 stopped


def test_one_point_curves_are_not_drawn():
    x = np.array([0, 100])
    one = {("rnn",): (x, np.array([[np.nan, 0.2], [np.nan, 0.3]]))}
    assert not plots_sweep.worth_a_curve(one)
    assert plots_sweep.worth_a_curve({("rnn",): (x, np.array([[0.5, 0.2]]))})


def _reference_interval_means(step, train, has_val):
    """Weighted mean of the per-row train losses between evaluations (numpy)."""
    w = np.diff(np.concatenate([[0], step]))
    ends = np.flatnonzero(has_val)
    starts = np.concatenate([[0], ends[:-1] + 1])
    return [np.sum(w[a:b + 1] * train[a:b + 1]) / np.sum(w[a:b + 1])
            for a, b in zip(starts, ends)]


def test_char_train_loss_is_averaged_over_each_evaluation_interval():
    rng = np.random.default_rng(0)
    step = np.array([7, 20, 40, 60, 80, 100, 120, 140])  # first interval shorter (resumed log)
    train = rng.uniform(1.0, 3.0, len(step))
    has_val = np.array([0, 1, 0, 0, 1, 0, 0, 1], bool)  # the last rows after no evaluation
    rows = [{"step": int(s), "epoch": s / 50, "train_loss": t, "smooth_loss": 9.9,
             "val_loss": 2.0 if v else ""} for s, t, v in zip(step, train, has_val)]
    rows.append({"step": 160, "epoch": 3.2, "train_loss": 9.0, "val_loss": ""})
    got = plots_char.train_per_eval_interval(rows)
    assert [e for e, _ in got] == list(step[has_val] / 50)
    np.testing.assert_allclose([m for _, m in got],
                               _reference_interval_means(step, train, has_val), rtol=1e-13)
    fig = plots_char.loss_curves(rows)
    assert not any("smooth" in ln.get_label() for ln in fig.axes[0].lines)  # no EMA


def test_sine_channel_names_and_carry_letters():
    assert channel_names("sincos", 2) == ["sin", "cos"]
    assert channel_names("sine", 1) == ["value"]
    assert channel_names("other", 2) == ["value_0", "value_1"]
    assert carry_grad_label("gru") == carry_grad_label("rnn") == "||dL/dh_t||"
    assert carry_grad_label("lstm") == "||dL/d(h_t, c_t)||"
    parts = plots_sine._chunks(401)
    assert [i for p in parts for i in p] == list(range(401))
    assert max(len(p) for p in parts) <= plots_sine.PER_PANEL and len(parts) == 5


def test_forecast_axis_is_floored_and_what_lies_below_is_marked(tmp_path):
    h = np.arange(1, 11)
    runs.write_csv(tmp_path / "forecast.csv", [
        {"horizon": int(k), "model": 0.05 * k, "zero": 0.7, "linear_ar": 1e-14} for k in h])
    runs.write_csv(tmp_path / "forecast_example.csv", [
        {"index": 20 + k, "truth": 0.1, "model": 0.1, "linear_ar": 0.1} for k in range(5)])
    runs.write_csv(tmp_path / "series.csv", [{"index": k, "value": 0.1} for k in range(25)])
    summary = {"label": "t", "seq_len": 5, "forecast": {"starts": 2}}
    fig = plots_sine.draw_forecast(tmp_path, summary)
    ax = fig.axes[1]
    floor = plots_sine.FLOOR_BELOW_MODEL * 0.05
    assert ax.get_ylim()[0] == pytest.approx(floor, rel=1e-12)
    marks = [ln for ln in ax.lines if ln.get_marker() == "v"]
    assert len(marks) == 1 and np.all(marks[0].get_ydata() == floor)
    assert any("linear_ar" in t.get_text() for t in ax.texts)


def test_reproduce_section_links_figures_from_the_report_directory(tmp_path, monkeypatch):
    """The section's Markdown lands in <report>/report.md while the sweeps run in
    <report>/ablations/<study>: a link must resolve from the report's directory."""
    from jaxrnn.sweep import studies
    from jaxrnn.sweep.spec import load_spec

    def fake_run(name, out_dir, quick=True, *, log=None):
        out = tmp_path / "ablations" / name
        out.mkdir(parents=True)
        (out / "summary.md").write_text("## x\n")
        (out / "final_val_loss.png").write_bytes(b"png")
        return load_spec(studies.study_path(name)), out, 0.0, None  # (spec, out, wall, note)

    monkeypatch.setattr(studies, "STUDIES", ("truncation-sine",))
    monkeypatch.setattr(studies, "run_study", fake_run)
    text = studies.reproduce_section(tmp_path / "ablations", quick=True)
    link = text.split("](", 1)[1].split(")", 1)[0]
    assert (tmp_path / link).is_file(), link


def test_error_bar_extents_are_never_negative_when_the_mean_rounds_past_the_domain():
    """A float32 cosine of 1 + 6e-8 with its interval clipped to [0.98, 1]: matplotlib refuses a
    negative yerr, which crashed the full truncation-sine-adam report."""
    m = 1.0 + 6e-8
    iv = rules.clipped_interval(0.98, 1.02, "bias_cos_final")
    below, above = rules.bar_extents(m, iv)
    assert (below, above) == (pytest.approx(m - 0.98), 0.0)
    assert rules.bar_extents(0.5, (0.4, 0.7)) == (pytest.approx(0.1), pytest.approx(0.2))
