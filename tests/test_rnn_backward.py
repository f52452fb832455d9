"""unroll(backward="fused"): the RNN's hand-written backward pass against numpy float64 code.

Gradients of the params come from tests/reference_bptt.py, the gradient of the initial carry
from central finite differences of tests/reference.py's forward loop.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrnn.cells import get_cell
from jaxrnn.grad.gradcheck import make_problem
from jaxrnn.model import sequence_loss
from jaxrnn.unroll import unroll
from reference import rnn_step, unroll_batch
from reference_bptt import reference_bptt


def _max_rel(got, want):
    return np.max(np.abs(np.asarray(got) - want)) / max(np.max(np.abs(want)), 1e-300)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("loss,batch", [("xent_mean", 3), ("all_steps", 0), ("last", 2)])
def test_param_gradients_match_reference(activation, loss, batch):
    p = make_problem("rnn", activation, loss, steps=7, batch=batch, hidden=4,
                     random_carry=True, seed=3)
    cell = get_cell("rnn", activation)

    def f(params):
        return sequence_loss(cell, params, p.xs, p.targets, loss, p.carry0, backward="fused")[0]

    value, grads = jax.jit(jax.value_and_grad(f))(p.params)
    want_value, want = reference_bptt("rnn", activation, p.params, p.xs, p.targets, loss,
                                      p.carry0)
    np.testing.assert_allclose(float(value), want_value, rtol=1e-12)
    for part in ("cell", "readout"):
        for k, w in want[part].items():
            assert _max_rel(grads[part][k], w) < 1e-12, (part, k)


def test_carry_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    T, B, D, H = 6, 2, 3, 4
    cell = get_cell("rnn", "tanh")
    params = cell.init(jax.random.PRNGKey(1), D, H, dtype=jnp.float64)
    params = {k: v + 0.3 * rng.standard_normal(v.shape) for k, v in params.items()}
    xs, R = rng.standard_normal((T, B, D)), rng.standard_normal((T, B, H))
    r_last = rng.standard_normal((B, H))
    h0 = rng.standard_normal((B, H))
    np_params = {k: np.asarray(v) for k, v in params.items()}

    def numpy_loss(h):
        ys, last = unroll_batch(lambda q, c, x: rnn_step(q, c, x), np_params, xs, h)
        return np.sum(ys * R) + np.sum(np.asarray(last) * r_last)

    def jax_loss(h):
        ys, last = unroll(cell, params, xs, h, backward="fused")
        return jnp.sum(ys * R) + jnp.sum(last * r_last)

    eps, fd = 1e-6, np.zeros_like(h0)
    for i in np.ndindex(h0.shape):
        e = np.zeros_like(h0)
        e[i] = eps
        fd[i] = (numpy_loss(h0 + e) - numpy_loss(h0 - e)) / (2 * eps)
    np.testing.assert_allclose(jax.grad(jax_loss)(h0), fd, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(jax_loss(h0), numpy_loss(h0), rtol=1e-13)


def test_refuses_what_it_does_not_support():
    cell = get_cell("rnn")
    params = cell.init(jax.random.PRNGKey(0), 2, 3)
    xs = jnp.ones((4, 2))
    for kwargs in ({"window": 2}, {"mask": jnp.ones(4, bool)}, {"reverse": True},
                   {"checkpoint": True}, {"resets": jnp.zeros(4, bool)}):
        with pytest.raises(ValueError, match="backward='scan'"):
            unroll(cell, params, xs, backward="fused", **kwargs)
    with pytest.raises(ValueError, match="'rnn' cell only"):
        lstm = get_cell("lstm")
        unroll(lstm, lstm.init(jax.random.PRNGKey(0), 2, 3), xs, backward="fused")
    with pytest.raises(ValueError, match="backward must be"):
        unroll(cell, params, xs, backward="fast")


def test_gradients_take_their_params_dtypes():
    """float32 params with float64 inputs: the carry is float64, the gradients are not."""
    cell = get_cell("rnn")
    params = cell.init(jax.random.PRNGKey(0), 3, 4)  # float32
    xs = jnp.ones((5, 2, 3), jnp.float64)
    g = jax.grad(lambda p: unroll(cell, p, xs, backward="fused")[0].sum())(params)
    assert {k: v.dtype for k, v in g.items()} == {k: v.dtype for k, v in params.items()}
    h0 = jnp.zeros((2, 4), jnp.float64)
    assert jax.grad(lambda h: unroll(cell, params, xs, h, backward="fused")[0].sum())(
        h0).dtype == jnp.float64
