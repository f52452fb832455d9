"""Issue 17: the Cho GRU (reset before W_hn) against numpy, in unroll, manual BPTT and gradcheck."""
import jax
import jax.numpy as jnp
import numpy as np

from jaxrnn import get_cell, unroll
from jaxrnn.cells import gru_cho_step
from jaxrnn.grad.gradcheck import gradcheck, make_problem
from jaxrnn.grad.manual_bptt import manual_bptt
from jaxrnn.model import sequence_loss
from reference import gru_cho_step as np_gru_cho_step
from reference import gru_step as np_gru_step
from reference import to_np, unroll_batch


def _params():
    return make_problem("gru_cho", loss="all_steps", hidden=5, inputs=3).params


def test_cho_step_and_unroll_match_numpy():
    p = _params()["cell"]
    assert set(p) == {"W_xr", "W_hr", "b_r", "W_xz", "W_hz", "b_z", "W_xn", "W_hn", "b_n"}
    rng = np.random.default_rng(1)
    xs, h0 = rng.normal(size=(7, 2, 3)), rng.normal(size=(2, 5))
    ys, _ = unroll(get_cell("gru_cho"), p, jnp.asarray(xs), jnp.asarray(h0))
    want = unroll_batch(np_gru_cho_step, to_np(p), xs, h0)[0]
    np.testing.assert_allclose(ys, want, rtol=0, atol=1e-12)
    h, _ = gru_cho_step(p, jnp.asarray(h0[0]), jnp.asarray(xs[0, 0]))
    np.testing.assert_allclose(h, np_gru_cho_step(to_np(p), h0[0], xs[0, 0])[0], atol=1e-12)


def test_cho_differs_from_reset_after():
    # Fails if "gru_cho" silently ran the reset-after equations.
    p = to_np(_params()["cell"])
    after = dict(p, b_xn=p["b_n"], b_hn=np.zeros_like(p["b_n"]))
    x, h = np.ones(3), np.linspace(-1, 1, 5)
    assert np.max(np.abs(np_gru_cho_step(p, h, x)[0] - np_gru_step(after, h, x)[0])) > 1e-3


def test_cho_manual_bptt_matches_autodiff_with_masks_and_windows():
    for window in (None, 2):
        prob = make_problem("gru_cho", loss="xent_mean", steps=6, batch=3, window=window,
                            random_carry=True)
        kw = dict(window=window, lengths=jnp.array([6, 4, 2]),
                  resets=jnp.zeros((6, 3), bool).at[3, 0].set(True))
        res = manual_bptt(prob.cell, prob.params, prob.xs, prob.targets, prob.loss, prob.carry0,
                          **kw)
        g = jax.grad(lambda q: sequence_loss(prob.cell, q, prob.xs, prob.targets, prob.loss,
                                             prob.carry0, **kw)[0])(prob.params)
        for a, b in zip(jax.tree_util.tree_leaves(res.grads), jax.tree_util.tree_leaves(g)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-14)


def test_cho_gradcheck_passes_and_catches_a_wrong_gradient():
    assert gradcheck("gru_cho", loss="all_steps").passed
    assert not gradcheck("gru_cho", loss="all_steps", corrupt=0.01).passed
