"""Every gradient method against manual BPTT and the numpy reference; the gradcheck CLI.

The default run samples cell/loss/window/shape combinations with hypothesis (compilation per
combination is what costs time). ``JAXRNN_FULL_GRID=1`` also runs every cell x loss x window
combination with every method (about 75 compilations of each method: minutes).
"""
import json
import os

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxrnn.cli import main as cli
from jaxrnn.grad.gradcheck import (METHODS, compare, compute_gradients, corrupt_gradient, gradcheck,
                              make_problem, manual_grads)
from jaxrnn.grad.methods import grad_finite_diff, grad_rtrl
from jaxrnn.model import LOSSES
from reference_bptt import reference_bptt

@pytest.fixture(autouse=True)
def no_persistent_cache(monkeypatch):
    """cli.main turns on XLA's persistent cache unless told not to: keep tests side-effect free."""
    monkeypatch.setenv("JAXRNN_CACHE_DIR", "off")


VARIANTS = [("rnn", "tanh"), ("rnn", "sigmoid"), ("rnn", "relu"), ("lstm", "tanh"),
            ("gru", "tanh")]
WINDOW_MODES = [(None, "start"), (2, "start"), (2, "end")]


def expected_methods(cell, window, T):
    names = {"autodiff_scan", "autodiff_loop", "forward"}
    if cell == "rnn":
        names.add("rtrl")
    if window is None or window >= T:
        names.add("finite_diff")
    return names


def check_all_methods(cell, activation, loss, window, anchor, **shape):
    """Every applicable method within the float64 tolerances of manual BPTT, and manual BPTT
    within 1e-12 of the numpy reference: every pair of methods agrees."""
    report = gradcheck(cell, activation, loss, window=window, anchor=anchor, **shape)
    assert set(report.worst()) == expected_methods(cell, window, shape.get("steps", 8))
    assert report.passed, report.worst()
    p = make_problem(cell, activation, loss, window=window, anchor=anchor, **shape)
    ref = reference_bptt(cell, activation, p.params, p.xs, p.targets, loss, p.carry0, window,
                         anchor)[1]
    rows = compare({"reference": ref, "manual": compute_gradients(p, methods=[])[0]["manual"]},
                   reference="reference")
    assert max(r["rel"] for r in rows) < 1e-12


@given(data=st.data())
@pytest.mark.parametrize("cell,activation", VARIANTS)
def test_methods_agree_on_random_problems(cell, activation, data):
    window, anchor = data.draw(st.sampled_from(WINDOW_MODES), "window")
    T = data.draw(st.integers(1, 5), "T")
    check_all_methods(cell, activation, data.draw(st.sampled_from(list(LOSSES)), "loss"),
                      window, anchor, steps=T, batch=data.draw(st.sampled_from([0, 3]), "B"),
                      hidden=data.draw(st.integers(1, 3), "H"),
                      bias=data.draw(st.booleans(), "bias"),
                      random_carry=data.draw(st.booleans(), "carry"),
                      seed=data.draw(st.integers(0, 99), "seed"))


@pytest.mark.skipif(not os.environ.get("JAXRNN_FULL_GRID"),
                    reason="full cell x loss x window grid: set JAXRNN_FULL_GRID=1 (minutes)")
@pytest.mark.parametrize("window,anchor", WINDOW_MODES)
@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("cell,activation", VARIANTS)
def test_methods_agree_full_grid(cell, activation, loss, window, anchor):
    check_all_methods(cell, activation, loss, window, anchor, steps=5, batch=3, hidden=3,
                      random_carry=True)


def test_float32_within_1e4():
    report = gradcheck("gru", loss="xent_mean", dtype="float32", steps=5, hidden=3,
                       methods=["autodiff_scan"])
    assert report.passed and 1e-9 < max(w["rel"] for w in report.worst().values()) < 1e-4


def test_finite_differences_refuse_truncation():
    p = make_problem("rnn", "tanh", "last", steps=5, window=2)
    with pytest.raises(ValueError, match="cannot check a truncated gradient"):
        grad_finite_diff(*p[:6], window=2, anchor="start")
    report = gradcheck("rnn", loss="last", steps=5, window=2, methods=["finite_diff"])
    assert "finite_diff" in report.skipped and report.rows == []


def test_finite_differences_allow_a_window_that_cuts_nothing():
    p = make_problem("lstm", "tanh", "last", steps=4, hidden=2, batch=0)
    g = grad_finite_diff(*p[:6], window=4, anchor="end")
    ref = reference_bptt("lstm", "tanh", p.params, p.xs, p.targets, "last")[1]
    assert max(r["rel"] for r in compare({"ref": ref, "fd": g}, reference="ref")) < 1e-6


def test_rtrl_is_for_the_vanilla_rnn_only():
    p = make_problem("gru", "tanh", "last", steps=3)
    with pytest.raises(ValueError, match="vanilla RNN only"):
        grad_rtrl(*p[:6])


def test_a_corrupted_gradient_is_caught():
    report = gradcheck(corrupt=1e-7, methods=["autodiff_scan"])
    worst = report.worst()["autodiff_scan"]
    assert not report.passed and 0.5e-7 < worst["rel"] < 2e-7
    g = {"cell": {"W_hh": np.ones((2, 2))}, "readout": {}}
    assert corrupt_gradient(g, 0.5)["cell"]["W_hh"][0, 0] == 1.5


def test_bring_your_own_backward_pass():
    def halved(*args, **kwargs):
        return jax.tree_util.tree_map(lambda g: 0.5 * g, manual_grads(*args, **kwargs))

    report = gradcheck(manual=halved, methods=["autodiff_scan"])
    assert not report.passed and abs(report.worst()["autodiff_scan"]["rel"] - 1.0) < 1e-12


def test_cli_prints_table_and_passes(capsys):
    assert cli.main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    for word in ("cell/W_hh", "readout/b_y", *METHODS, "PASS"):
        assert word in out


def test_cli_exits_nonzero_on_a_wrong_gradient(capsys):
    assert cli.main(["gradcheck", "--corrupt", "1e-6", "--methods", "autodiff_scan"]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_cli_json_and_bad_input(capsys):
    assert cli.main(["gradcheck", "--json", "--methods", "autodiff_scan,rtrl"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] and set(data["worst"]) == {"autodiff_scan", "rtrl"}
    assert cli.main(["gradcheck", "--methods", "magic"]) == 2
    assert "unknown method 'magic'" in capsys.readouterr().err
    assert cli.main(["gradcheck", "--cell", "lstm", "--activation", "relu"]) == 2


def test_cli_plot_writes_the_figure(tmp_path, capsys):
    assert cli.main(["gradcheck", "--methods", "autodiff_scan", "--plot", str(tmp_path)]) == 0
    assert "diagnostics figure:" in capsys.readouterr().out
    assert (tmp_path / "gradient_flow.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "gradient_flow.json").read_text())["settings"]["loss"] == \
        "all_steps"


def test_compare_rejects_a_different_pytree():
    g = {"cell": {"W_hh": np.ones((2, 2))}, "readout": {"W_hy": np.ones((1, 2))}}
    with pytest.raises(ValueError, match="same pytree"):
        compare({"manual": g, "mine": {"cell": {"W_hh": np.ones((2, 2))}, "readout": {}}})
