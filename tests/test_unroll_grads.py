"""Gradients of stacked, bidirectional and TBPTT(k1, k2) unrolls against numpy complex-step
gradients of Python-loop forward passes (``reference_complex_step``), with lengths, truncation
windows and non-zero initial carries."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reference_complex_step as cs
from jaxrnn import cells
from jaxrnn.unroll import unroll_bidirectional, unroll_stack, unroll_tbptt
from test_cells import random_params

T, B, D, H = 6, 2, 3, 5
LENGTHS = [6, 4]
TOL = dict(rtol=1e-10, atol=1e-13)


def carry_for(name, seed):
    h = 0.5 * jax.random.normal(jax.random.PRNGKey(seed), (B, H), jnp.float64)
    return cells.LSTMCarry(h, -h) if name == "lstm" else h


def per_sequence(carry):
    """A batched jax carry as a list of B numpy carries ((h, c) tuples for the LSTM)."""
    if isinstance(carry, tuple):
        return [tuple(np.asarray(c[b]) + 0j for c in carry) for b in range(B)]
    return [np.asarray(carry[b]) + 0j for b in range(B)]


def split(flat, sizes):
    """{"0/W_xh": ...} back to one dict per part."""
    return [{k.split("/", 1)[1]: v for k, v in flat.items() if k.startswith(f"{i}/")}
            for i in range(sizes)]


def flat(parts):
    return {f"{i}/{k}": np.asarray(v) for i, p in enumerate(parts) for k, v in p.items()}


def assert_grads_close(got_parts, want_flat):
    got = flat(got_parts)
    assert got.keys() == want_flat.keys()
    for k in want_flat:
        np.testing.assert_allclose(got[k], want_flat[k], err_msg=k, **TOL)


@pytest.mark.parametrize("window,anchor", [(None, "start"), (2, "start"), (3, "end")])
def test_stack_gradient_with_lengths_window_and_carries0(window, anchor):
    names = ["lstm", "gru"]
    params = [random_params(("lstm", "tanh"), jax.random.PRNGKey(1)),
              random_params(("gru", "tanh"), jax.random.PRNGKey(2), D=H)]
    carries0 = [carry_for("lstm", 8), carry_for("gru", 9)]
    xs = jax.random.normal(jax.random.PRNGKey(3), (T, B, D), jnp.float64)
    w = jax.random.normal(jax.random.PRNGKey(4), (T, B, H), jnp.float64)
    kw = dict(lengths=jnp.asarray(LENGTHS), window=window, anchor=anchor)

    def loss(ps):
        ys, _ = unroll_stack([cells.get_cell(n) for n in names], ps, xs, carries0, **kw)
        return jnp.sum(ys * w)

    def np_loss(flat_params):
        ys = np.asarray(xs) + 0j
        for name, p, c0 in zip(names, split(flat_params, 2), carries0):
            ys = cs.unroll_batch(cs.step_fn(name), p, ys, per_sequence(c0), LENGTHS,
                                 window=window, anchor=anchor)
        return np.sum(ys * np.asarray(w))

    assert_grads_close(jax.grad(loss)(params), cs.complex_step_grad(np_loss, flat(params)))


@pytest.mark.parametrize("name", ["lstm", "gru"])
@pytest.mark.parametrize("window,anchor", [(None, "start"), (3, "end")])
def test_bidirectional_gradient_with_lengths_window_and_carry0(name, window, anchor):
    params = {"fwd": random_params((name, "tanh"), jax.random.PRNGKey(1)),
              "bwd": random_params((name, "tanh"), jax.random.PRNGKey(5))}
    carry0 = (carry_for(name, 8), carry_for(name, 9))
    xs = jax.random.normal(jax.random.PRNGKey(3), (T, B, D), jnp.float64)
    w = jax.random.normal(jax.random.PRNGKey(4), (T, B, 2 * H), jnp.float64)
    kw = dict(lengths=jnp.asarray(LENGTHS), window=window, anchor=anchor)

    def loss(p):
        return jnp.sum(unroll_bidirectional(cells.get_cell(name), p, xs, carry0, **kw)[0] * w)

    def np_loss(flat_params):
        fwd, bwd = split(flat_params, 2)
        x = np.asarray(xs)
        ys_f = cs.unroll_batch(cs.step_fn(name), fwd, x, per_sequence(carry0[0]), LENGTHS,
                               window=window, anchor=anchor)
        ys_b = cs.unroll_batch(cs.step_fn(name), bwd, x, per_sequence(carry0[1]), LENGTHS,
                               window=window, anchor=anchor, reverse=True)
        return np.sum(np.concatenate([ys_f, ys_b], -1) * np.asarray(w))

    got = jax.grad(loss)(params)
    assert_grads_close([got["fwd"], got["bwd"]],
                       cs.complex_step_grad(np_loss, flat([params["fwd"], params["bwd"]])))


@pytest.mark.parametrize("name,k1,k2,ints", [("gru", 2, 5, False), ("gru", 3, 4, False),
                                             ("gru", 2, 9, False), ("rnn", 2, 3, True)])
def test_tbptt_gradient_gru_carry0_int_inputs_and_k2_past_T(name, k1, k2, ints):
    """k2 = 9 > T: every block reaches back to step 0 (the carry0 there is a constant)."""
    cell = cells.get_cell(name)
    params = random_params((name, "tanh"), jax.random.PRNGKey(1))
    carry0 = carry_for(name, 8)
    if ints:
        xs = jax.random.randint(jax.random.PRNGKey(3), (T, B), 0, D)
        x_np = np.eye(D)[np.asarray(xs)]  # (T, B, D) one-hot, as the cells document
    else:
        xs = jax.random.normal(jax.random.PRNGKey(3), (T, B, D), jnp.float64)
        x_np = np.asarray(xs)
    w = jax.random.normal(jax.random.PRNGKey(4), (T, B, H), jnp.float64)

    def loss(p):
        return jnp.sum(unroll_tbptt(cell, p, xs, carry0, k1=k1, k2=k2)[0] * w)

    def np_loss(flat_params):
        (p,) = split(flat_params, 1)
        ys = np.stack([cs.tbptt_seq(cs.step_fn(name), p, x_np[:, b], per_sequence(carry0)[b],
                                    k1, k2) for b in range(B)], axis=1)
        return np.sum(ys * np.asarray(w))

    assert_grads_close([jax.grad(loss)(params)], cs.complex_step_grad(np_loss, flat([params])))
