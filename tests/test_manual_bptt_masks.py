"""Issue 17: manual BPTT and every gradcheck method with lengths, masks and resets; carry dtypes;
the fused backward with a window >= T."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrnn import get_cell, unroll
from jaxrnn.grad.gradcheck import gradcheck, make_problem
from jaxrnn.grad.manual_bptt import manual_bptt
from jaxrnn.model import sequence_loss

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh"),
         ("gru_cho", "tanh")]


@pytest.mark.parametrize("cell,act", CELLS)
def test_gradcheck_with_random_lengths_and_resets_passes(cell, act):
    report = gradcheck(cell, act, "xent_mean", steps=6, lengths="random", resets="random")
    assert report.passed, report.worst()
    assert report.settings["lengths"] is not None and report.settings["resets"] is not None


def test_manual_bptt_with_a_mask_and_resets_matches_autodiff():
    # A resets flag not honoured backward (gradient leaking into the previous episode) or a
    # padded step not passing its gradient through fails here.
    p = make_problem("lstm", loss="all_steps", steps=7, batch=2, random_carry=True)
    mask = jnp.array([[1, 1], [1, 0], [1, 1], [0, 1], [1, 1], [1, 1], [0, 1]], bool)
    resets = jnp.zeros((7, 2), bool).at[4, 0].set(True).at[2, 1].set(True)
    res = manual_bptt(p.cell, p.params, p.xs, p.targets, p.loss, p.carry0, mask=mask,
                      resets=resets)
    g = jax.grad(lambda q: sequence_loss(p.cell, q, p.xs, p.targets, p.loss, p.carry0,
                                         mask=mask, resets=resets)[0])(p.params)
    for a, b in zip(jax.tree_util.tree_leaves(res.grads), jax.tree_util.tree_leaves(g)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-14)
    without = manual_bptt(p.cell, p.params, p.xs, p.targets, p.loss, p.carry0, mask=mask)
    assert not np.allclose(without.grads["cell"]["W_hi"], res.grads["cell"]["W_hi"])


def test_float32_carry_with_float64_params_is_cast():
    p = make_problem("rnn", loss="all_steps", steps=5, batch=2, random_carry=True)
    c32 = p.carry0.astype(jnp.float32)
    ys, _ = unroll(p.cell, p.params["cell"], p.xs, c32)
    ys_fused, _ = unroll(p.cell, p.params["cell"], p.xs, c32, backward="fused")
    ref, _ = unroll(p.cell, p.params["cell"], p.xs, c32.astype(jnp.float64))
    assert ys.dtype == jnp.float64
    np.testing.assert_allclose(ys, ref, rtol=1e-15)
    np.testing.assert_allclose(ys_fused, ref, rtol=1e-13)
    res = manual_bptt(p.cell, p.params, p.xs, p.targets, p.loss, c32)
    assert res.loss.dtype == jnp.float64
    with pytest.raises(TypeError, match="carry0 must be floating"):
        unroll(p.cell, p.params["cell"], p.xs, jnp.zeros((2, 4), jnp.int32))


@pytest.mark.parametrize("window", [5, 9])
def test_fused_backward_accepts_window_at_least_T(window):
    p = make_problem("rnn", loss="all_steps", steps=5, batch=2)

    def loss(q, **kw):
        ys, _ = unroll(get_cell("rnn"), q, p.xs, **kw)
        return jnp.sum(ys ** 2)

    full = jax.grad(loss)(p.params["cell"])
    fused = jax.grad(lambda q: loss(q, backward="fused", window=window))(p.params["cell"])
    for k in full:
        np.testing.assert_allclose(fused[k], full[k], rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="window"):
        unroll(get_cell("rnn"), p.params["cell"], p.xs, backward="fused", window=4)


def test_rtrl_window_cuts_are_per_step_when_T_equals_B():
    """Regression: the (T,) cut flags were broadcast against (T, B) along the batch axis when
    T == B, so RTRL cut the wrong steps (found by the derandomized hypothesis profile)."""
    from jaxrnn.grad.gradcheck import gradcheck

    report = gradcheck("rnn", "relu", "last_half_sum", window=2, anchor="start", steps=3,
                       batch=3, hidden=3, bias=False, seed=49)
    assert report.worst()["rtrl"]["ok"], report.worst()["rtrl"]
