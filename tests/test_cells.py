"""Cells against the numpy float64 reference; initialisers; dtypes; bad input."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import parameterized

import reference as ref
from jaxrnn import cells
from jaxrnn.initializers import get_initializer

D, H = 3, 5
CASES = [("rnn", "tanh"), ("rnn", "sigmoid"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


def random_params(cell, key, bias=True, D=D, H=H):
    """Params with every leaf random (biases too), so a wrong bias term cannot hide."""
    c = cells.get_cell(*cell)
    kwargs = {"bias": bias} if cell[0] == "rnn" else {}
    params = c.init(key, D, H, input_init="normal(0.7)", recurrent_init="normal(0.5)",
                    dtype=jnp.float64, **kwargs)
    keys = jax.random.split(jax.random.PRNGKey(7), len(params))
    return {k: v + 0.3 * jax.random.normal(kk, v.shape, v.dtype) if k.startswith("b") else v
            for (k, v), kk in zip(sorted(params.items()), keys)}


def random_carry(cell, key, batch=()):
    h = jax.random.normal(key, batch + (H,), jnp.float64)
    if cell == "lstm":
        return cells.LSTMCarry(h, jnp.cos(h))
    return h


def as_ref_carry(carry):
    return tuple(np.asarray(c) for c in carry) if isinstance(carry, tuple) else np.asarray(carry)


class CellStepTest(chex.TestCase, parameterized.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.parameters(*CASES)
    def test_step_matches_numpy(self, name, activation):
        p = random_params((name, activation), jax.random.PRNGKey(1))
        carry = random_carry(name, jax.random.PRNGKey(2))
        x = jax.random.normal(jax.random.PRNGKey(3), (D,), jnp.float64)
        step = self.variant(cells.get_cell(name, activation).step)
        new, y = step(p, carry, x)
        want_carry, want_y = ref.step_fn(name, activation)(ref.to_np(p), as_ref_carry(carry),
                                                          np.asarray(x))
        np.testing.assert_allclose(y, want_y, rtol=1e-12, atol=1e-14)
        for got, want in zip(jax.tree_util.tree_leaves(new),
                             jax.tree_util.tree_leaves(want_carry)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,activation", CASES)
def test_named_step_functions_equal_cell_step(name, activation):
    p = random_params((name, activation), jax.random.PRNGKey(1))
    carry = random_carry(name, jax.random.PRNGKey(2))
    x = jnp.linspace(-1.0, 1.0, D)
    fn = {"rnn": lambda *a: cells.rnn_step(*a, activation=activation),
          "lstm": cells.lstm_step, "gru": cells.gru_step}[name]
    want = ref.step_fn(name, activation)(ref.to_np(p), as_ref_carry(carry), np.asarray(x))[1]
    np.testing.assert_allclose(fn(p, carry, x)[1], want, rtol=1e-12)


@pytest.mark.parametrize("name,activation", CASES)
def test_int_input_equals_one_hot(name, activation):
    p = random_params((name, activation), jax.random.PRNGKey(1))
    carry = random_carry(name, jax.random.PRNGKey(2))
    step = cells.get_cell(name, activation).step
    _, y_int = step(p, carry, jnp.asarray(2))
    _, y_hot = step(p, carry, jax.nn.one_hot(2, D, dtype=jnp.float64))
    np.testing.assert_allclose(y_int, y_hot, rtol=1e-13)


@pytest.mark.parametrize("name,activation", CASES)
def test_vmap_batch_equals_per_example(name, activation):
    p = random_params((name, activation), jax.random.PRNGKey(1))
    carry = random_carry(name, jax.random.PRNGKey(2), batch=(4,))
    xs = jax.random.normal(jax.random.PRNGKey(3), (4, D), jnp.float64)
    step = cells.get_cell(name, activation).step
    _, ys = jax.vmap(step, (None, 0, 0))(p, carry, xs)
    for b in range(4):
        one = jax.tree_util.tree_map(lambda c: c[b], carry)
        np.testing.assert_allclose(ys[b], step(p, one, xs[b])[1], rtol=1e-13)


def test_rnn_without_bias_has_no_b_h(key):
    p = cells.init_rnn(key, D, H, bias=False)
    assert set(p) == {"W_xh", "W_hh"}
    h, _ = cells.rnn_step(p, jnp.zeros(H), jnp.zeros(D))
    np.testing.assert_array_equal(h, np.zeros(H))


@pytest.mark.parametrize("name,activation", CASES)
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_dtype_follows_params_and_inputs(name, activation, dtype, key):
    c = cells.get_cell(name, activation)
    p = c.init(key, D, H, dtype=dtype)
    carry, y = c.step(p, c.init_carry(p, (), dtype), jnp.ones(D, dtype))
    assert y.dtype == dtype
    assert all(leaf.dtype == dtype for leaf in jax.tree_util.tree_leaves(carry))


def test_param_names_and_shapes(key):
    assert {k: v.shape for k, v in cells.init_rnn(key, D, H).items()} == {
        "W_xh": (H, D), "W_hh": (H, H), "b_h": (H,)}
    lstm = cells.init_lstm(key, D, H, forget_bias=1.0)
    assert sorted(lstm) == sorted([f"W_x{g}" for g in "ifgo"] + [f"W_h{g}" for g in "ifgo"]
                                  + [f"b_{g}" for g in "ifgo"])
    np.testing.assert_array_equal(lstm["b_f"], np.ones(H))
    np.testing.assert_array_equal(lstm["b_i"], np.zeros(H))
    gru = cells.init_gru(key, D, H)
    assert sorted(gru) == sorted(["W_xr", "W_xz", "W_xn", "W_hr", "W_hz", "W_hn",
                                  "b_r", "b_z", "b_xn", "b_hn"])
    r = cells.init_readout(key, H, 2)
    assert r["W_hy"].shape == (2, H) and r["b_y"].shape == (2,)
    h = jnp.arange(H, dtype=jnp.float32)
    np.testing.assert_allclose(cells.readout(r, h), np.asarray(r["W_hy"]) @ np.asarray(h))


def test_initializers_follow_their_distributions():
    key = jax.random.PRNGKey(3)
    shape = (200, 300)
    u = np.asarray(get_initializer("uniform01")(key, shape, jnp.float64))
    assert u.min() >= 0.0 and u.max() <= 1.0 and abs(u.mean() - 0.5) < 0.01
    n = np.asarray(get_initializer("randn001")(key, shape, jnp.float64))
    assert abs(n.std() - 0.01) < 0.0005 and abs(n.mean()) < 0.0005
    a = np.asarray(get_initializer("uniform008")(key, shape, jnp.float64))
    assert a.min() >= -0.08 and a.max() <= 0.08 and a.max() > 0.079
    np.testing.assert_array_equal(get_initializer("identity001")(key, (4, 4), jnp.float64),
                                  0.01 * np.eye(4))
    q = np.asarray(get_initializer("orthogonal")(key, (50, 50), jnp.float64))
    np.testing.assert_allclose(q @ q.T, np.eye(50), atol=1e-10)
    g = np.asarray(get_initializer("glorot")(key, shape, jnp.float64))
    assert np.abs(g).max() <= np.sqrt(6.0 / sum(shape))
    s = np.asarray(get_initializer("normal(0.5)")(key, shape, jnp.float64))
    assert abs(s.std() - 0.5) < 0.01


def test_initializers_are_deterministic_in_the_key():
    init = get_initializer("glorot")
    a = init(jax.random.PRNGKey(1), (3, 4), jnp.float32)
    np.testing.assert_array_equal(a, init(jax.random.PRNGKey(1), (3, 4), jnp.float32))
    assert not np.array_equal(a, init(jax.random.PRNGKey(2), (3, 4), jnp.float32))


@pytest.mark.parametrize("args,match", [
    (("conv",), "unknown cell 'conv'"),
    (("rnn", "softsign"), "unknown activation 'softsign'"),
    (("lstm", "sigmoid"), "applies to the 'rnn' cell only"),
])
def test_get_cell_errors(args, match):
    with pytest.raises(ValueError, match=match):
        cells.get_cell(*args)


def test_bad_initializer_and_sizes(key):
    with pytest.raises(ValueError, match="unknown initialiser 'xavier'"):
        cells.init_rnn(key, D, H, input_init="xavier")
    with pytest.raises(ValueError, match="square matrix"):
        get_initializer("identity001")(key, (2, 3), jnp.float32)
    with pytest.raises(ValueError, match="hidden size H must be a positive int"):
        cells.init_gru(key, D, 0)
    with pytest.raises(ValueError, match="not a cell's params"):
        cells.hidden_size({"W_hy": jnp.zeros((1, 2))})


def test_get_cell_is_cached():
    assert cells.get_cell("rnn", "sigmoid") is cells.get_cell("rnn", "sigmoid")


@pytest.mark.parametrize("name", cells.CELLS)
def test_cell_is_a_static_jit_argument(name, key):
    """A Cell has no pytree leaves, so ``jax.jit(unroll)(cell, params, xs)`` works, traces once."""
    from jaxrnn.unroll import unroll

    cell = cells.get_cell(name)
    assert jax.tree_util.tree_leaves(cell) == []
    params = cell.init(key, 3, 4, dtype=jnp.float64)
    xs = jax.random.normal(jax.random.PRNGKey(1), (5, 2, 3), jnp.float64)
    traces = []

    @jax.jit
    def run(cell, params, xs):
        traces.append(1)
        return unroll(cell, params, xs)

    got = run(cell, params, xs)
    run(cells.get_cell(name), params, xs)
    want = unroll(cell, params, xs)
    chex.assert_trees_all_close(got, want, rtol=1e-12)
    assert len(traces) == 1
