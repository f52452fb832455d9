"""Issue 17: finite differences at ReLU kinks are reported, counted and left out, not failed."""
import numpy as np

from jaxrnn.grad import gradcheck as gc


def _kinked_problem():
    p = gc.make_problem("rnn", "relu", "all_steps", hidden=4, steps=8, batch=3)
    cell = dict(p.params["cell"])
    for k in ("W_xh", "W_hh", "b_h"):
        cell[k] = cell[k].at[:2].set(0.0)  # units 0, 1: pre-activation exactly 0 at every step
    return p._replace(params={"cell": cell, "readout": p.params["readout"]})


def test_kink_entries_are_counted_and_the_rest_compared():
    settings = dict(dtype="float64")
    report = gc.check_problem(_kinked_problem(), settings)
    # units 0, 1: W_xh rows (2 x D=3), b_h (2), W_hh rows against the live units 2, 3 (2 x 2)
    assert report.non_differentiable == {"cell/W_hh": 4, "cell/W_xh": 6, "cell/b_h": 2}
    assert report.passed
    assert report.to_dict()["non_differentiable"] == report.non_differentiable


def test_without_the_exclusion_finite_differences_disagree_at_the_kink():
    # The exclusion is needed: the raw comparison fails (average slope 1/2 vs relu'(0) = 0).
    grads, _ = gc.compute_gradients(_kinked_problem(), ["finite_diff"])
    rows = gc.compare(grads)
    assert max(r["rel"] for r in rows) > 0.1


def test_a_wrong_gradient_is_still_caught_at_a_kink():
    report = gc.check_problem(_kinked_problem(), dict(dtype="float64"),
                              manual=lambda *a, **k: gc.corrupt_gradient(
                                  gc.manual_grads(*a, **k), 0.01))
    assert not report.passed
    assert not any(r["ok"] for r in report.rows if r["param"] == "cell/W_hh")


def test_smooth_cells_report_no_kinks():
    assert gc.gradcheck("rnn", "tanh").non_differentiable == {}
    assert np.all([r["excluded"] == 0 for r in gc.gradcheck("gru").rows])
