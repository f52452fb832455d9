"""Gradient-flow diagnostics against autodiff and the numpy reference's forward quantities."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxrnn.cells import LSTMCarry, readout
from jaxrnn.cli.gradcheck import write_diagnostics
from jaxrnn.grad.diagnostics import (carry_grad_norms, jacobian_spectra, scale_recurrent,
                                     scaled_norm, step_jacobians, truncation_bias)
from jaxrnn.grad.gradcheck import make_problem
from jaxrnn.grad.manual_bptt import manual_bptt
from jaxrnn.model import get_loss, sequence_loss
from jaxrnn.unroll import window_cuts
from reference_bptt import lstm_step, rnn_step


def dl_dh_by_perturbation(p, window, anchor):
    """dL/dh_t as jax.grad w.r.t. an additive perturbation of h_t (zero), Python loop."""
    cell, params, xs, targets, loss, carry0 = p[:6]
    cuts = np.asarray(window_cuts(xs.shape[0], window, anchor)) if window else [False] * len(xs)
    step = jax.vmap(cell.step, (None, 0, 0))

    def f(eps):
        carry, preds = carry0 if carry0 is not None else cell.init_carry(
            params["cell"], (xs.shape[1],), jnp.float64), []
        for t in range(xs.shape[0]):
            if cuts[t]:
                carry = jax.tree_util.tree_map(lax.stop_gradient, carry)
            carry, _ = step(params["cell"], carry, xs[t])
            h = (carry.h if isinstance(carry, LSTMCarry) else carry) + eps[t]
            carry = LSTMCarry(h, carry.c) if isinstance(carry, LSTMCarry) else h
            preds.append(jax.vmap(readout, (None, 0))(params["readout"], h))
        return get_loss(loss)(jnp.stack(preds), targets)

    return jax.jit(jax.grad(f))(jnp.zeros(xs.shape[:2] + (params["readout"]["W_hy"].shape[1],)))


def test_scaled_norm_does_not_underflow_or_overflow_in_float32():
    g = jnp.array([[3e-25, 4e-25], [0.0, 0.0], [3e20, -4e20]], jnp.float32)
    np.testing.assert_allclose(np.asarray(scaled_norm(g), np.float64), [5e-25, 0.0, 5e20],
                               rtol=1e-6)


def test_vanished_hidden_gradients_keep_their_size_in_float32():
    """W_hh x 1e-3 over 10 steps: ||dL/dh_1|| ~ 1e-27, whose square is 0 in float32."""
    p = make_problem("rnn", "tanh", "last", steps=10, batch=2, hidden=3, dtype="float32")
    cell, params, xs, targets, loss = p[:5]
    params = dict(params, cell=dict(params["cell"], W_hh=params["cell"]["W_hh"] * 1e-3))
    got = np.asarray(carry_grad_norms(cell, params, xs,
                                      lambda preds: get_loss(loss)(preds, targets)), np.float64)
    q = {k: np.asarray(v, np.float64) for k, v in {**params["cell"], **params["readout"]}.items()}
    h, hs = np.zeros((2, 3)), []
    for x in np.asarray(xs, np.float64):  # numpy float64 forward and backward (loss "last")
        h = np.tanh(x @ q["W_xh"].T + h @ q["W_hh"].T + q["b_h"])
        hs.append(h)
    dh = 2.0 / 2 * (hs[-1] @ q["W_hy"].T + q["b_y"] - np.asarray(targets, np.float64)) @ q["W_hy"]
    want = [np.linalg.norm(dh)]
    for t in range(9, 0, -1):
        dh = (dh * (1.0 - hs[t] ** 2)) @ q["W_hh"]
        want.append(np.linalg.norm(dh))
    want = np.array(want[::-1])
    assert want[0] < 1e-22  # the case: squares underflow float32
    # float32 forward and 10 backward steps, each a few roundings of float32's unit roundoff
    # (6e-8) in (1 - h^2), the 3-term products with W_hh and the norm: 10 x 3 x 6e-8 ~ 2e-6
    # bounds it (measured 3.2e-7). A norm that loses its scale is off by orders of magnitude.
    np.testing.assert_allclose(got, want, rtol=2e-6)


@pytest.mark.parametrize("cell,loss,window,anchor", [
    ("rnn", "last", None, "start"), ("lstm", "all_steps", 2, "end"),
    ("gru", "xent_sum", 3, "start")])
def test_hidden_gradients_equal_autodiff(cell, loss, window, anchor):
    p = make_problem(cell, "tanh", loss, steps=6, batch=3, hidden=3, random_carry=True)
    want = dl_dh_by_perturbation(p, window, anchor)
    got = manual_bptt(*p[:6], window=window, anchor=anchor).dhs
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * np.abs(want).max())


@pytest.mark.parametrize("cell,loss", [("rnn", "last"), ("gru", "xent_sum")])
def test_carry_grad_norms_equal_the_norms_of_dl_dh(cell, loss):
    """For cells whose carry is h, ||dL/dc_t|| is the norm of the perturbation gradient."""
    p = make_problem(cell, "tanh", loss, steps=6, batch=3, hidden=3, random_carry=True)
    want = dl_dh_by_perturbation(p, None, "start")
    norms = carry_grad_norms(p.cell, p.params, p.xs,
                             lambda preds: get_loss(loss)(preds, p.targets), carry0=p.carry0)
    np.testing.assert_allclose(norms, np.linalg.norm(want.reshape(6, -1), axis=1), rtol=1e-12)


def test_rnn_step_jacobian_is_diag_slope_times_w_hh():
    p = make_problem("rnn", "tanh", "last", steps=6, batch=0, hidden=3, random_carry=True)
    cp = {k: np.asarray(v) for k, v in p.params["cell"].items()}
    J = np.asarray(step_jacobians(p.cell, p.params, p.xs, p.carry0))
    h = np.asarray(p.carry0)
    for t in range(6):
        h, cache = rnn_step(cp, h, np.asarray(p.xs[t]), "tanh")
        np.testing.assert_allclose(J[t], (1 - h ** 2)[:, None] * cp["W_hh"], rtol=1e-13)
    sv = np.asarray(jacobian_spectra(J))
    np.testing.assert_allclose(sv[:, 0], np.linalg.norm(J, ord=2, axis=(1, 2)), rtol=1e-12)


def test_lstm_cell_state_block_is_the_forget_gate():
    p = make_problem("lstm", "tanh", "last", steps=6, batch=3, hidden=3, random_carry=True)
    cp = {k: np.asarray(v) for k, v in p.params["cell"].items()}
    J = np.asarray(step_jacobians(p.cell, p.params, p.xs, p.carry0))
    assert J.shape == (6, 6, 6)
    state = (np.asarray(p.carry0.h[0]), np.asarray(p.carry0.c[0]))  # first sequence
    for t in range(6):
        state, cache = lstm_step(cp, state, np.asarray(p.xs[t, 0]))
        np.testing.assert_allclose(J[t, 3:, 3:], np.diag(cache["f"]), rtol=1e-13, atol=1e-15)


def test_truncation_bias_against_autodiff():
    p = make_problem("gru", "tanh", "last", steps=6, batch=3, hidden=3, random_carry=True)
    out = truncation_bias(*p[:6], windows=[2, 6, 7], anchor="end")

    @jax.jit
    def cell_grads(params):
        def grad(**kw):
            g = jax.grad(lambda q: sequence_loss(*(p[:1] + (q,) + p[2:6]), **kw)[0])(params)
            return jnp.concatenate([jnp.ravel(v) for v in jax.tree_util.tree_leaves(g["cell"])])

        return grad(), grad(window=2, anchor="end")

    full, g2 = map(np.asarray, cell_grads(p.params))
    cos = g2 @ full / np.linalg.norm(g2) / np.linalg.norm(full)
    np.testing.assert_allclose(out["cosine"], [cos, 1.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(out["rel_error"][0], np.linalg.norm(g2 - full) /
                               np.linalg.norm(full), rtol=1e-10)
    assert out["rel_error"][1:] == [0.0, 0.0] and out["rel_error"][0] > 1e-3


def test_scale_recurrent_scales_only_recurrent_weights():
    p = make_problem("lstm", "tanh", "last", steps=2).params
    s = scale_recurrent(p, 2.0)
    for k, v in p["cell"].items():
        np.testing.assert_array_equal(s["cell"][k], 2.0 * v if k.startswith("W_h") else v)
    assert s["readout"] is p["readout"]


def test_write_diagnostics_writes_json_and_png(tmp_path):
    path = write_diagnostics(tmp_path / "d", cell="rnn", loss="all_steps", steps=8, hidden=4,
                             batch=3)  # the gradcheck CLI's default problem
    assert path.exists() and path.stat().st_size > 10_000
    data = json.loads((tmp_path / "d" / "gradient_flow.json").read_text())
    assert [r["scale"] for r in data["runs"]] == [0.5, 1.0, 2.0]
    for run in data["runs"]:
        assert len(run["grad_norms"]) == len(run["jacobian_norm"]) == 8
        tr = run["truncation"]
        assert tr["window"] == list(range(1, 9))
        assert tr["rel_error"][-1] == 0.0 and abs(tr["cosine"][-1] - 1.0) < 1e-14
        assert min(tr["rel_error"][:-1]) > 0.0
