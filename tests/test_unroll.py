"""unroll against Python-loop references: masks, reverse, resets, stacking, bidirectional."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import parameterized

import reference as ref
from jaxrnn import cells
from jaxrnn.unroll import unroll, unroll_bidirectional, unroll_stack
from test_cells import CASES, D, H, random_params

T, B = 7, 3
TOL = dict(rtol=1e-11, atol=1e-13)


def inputs(key, batch=True):
    shape = (T, B, D) if batch else (T, D)
    return jax.random.normal(key, shape, jnp.float64)


def carry0_for(name, batch=True, key=jax.random.PRNGKey(9)):
    h = 0.5 * jax.random.normal(key, ((B,) if batch else ()) + (H,), jnp.float64)
    return cells.LSTMCarry(h, -h) if name == "lstm" else h


def np_carry(c):
    return tuple(np.asarray(x) for x in c) if isinstance(c, tuple) else np.asarray(c)


def assert_tree_close(a, b, **tol):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(x, y, **(tol or TOL))


class UnrollTest(chex.TestCase, parameterized.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.product(case=CASES, batch=[True, False], reverse=[False, True])
    def test_matches_python_loop(self, case, batch, reverse):
        name, act = case
        cell = cells.get_cell(name, act)
        p = random_params(case, jax.random.PRNGKey(1))
        xs, c0 = inputs(jax.random.PRNGKey(2), batch), carry0_for(name, batch)
        run = self.variant(lambda p, xs, c0: unroll(cell, p, xs, c0, reverse=reverse))
        ys, carry = run(p, xs, c0)
        step = ref.step_fn(name, act)
        if batch:
            want_ys, want_c = ref.unroll_batch(step, ref.to_np(p), np.asarray(xs), np_carry(c0),
                                               reverse=[reverse] * B)
        else:
            want_ys, want_c = ref.unroll_one(step, ref.to_np(p), np.asarray(xs), np_carry(c0),
                                             reverse=reverse)
        np.testing.assert_allclose(ys, want_ys, **TOL)
        assert_tree_close(carry, want_c)

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.product(case=CASES, reverse=[False, True])
    def test_lengths_stop_the_carry_and_zero_the_outputs(self, case, reverse):
        name, act = case
        cell = cells.get_cell(name, act)
        p = random_params(case, jax.random.PRNGKey(1))
        xs, c0 = inputs(jax.random.PRNGKey(2)), carry0_for(name)
        lengths = jnp.array([T, 4, 1])
        run = self.variant(lambda p, xs, c0, n: unroll(cell, p, xs, c0, lengths=n,
                                                        reverse=reverse))
        ys, carry = run(p, xs, c0, lengths)
        want_ys, want_c = ref.unroll_batch(ref.step_fn(name, act), ref.to_np(p), np.asarray(xs),
                                           np_carry(c0), length=[T, 4, 1],
                                           reverse=[reverse] * B)
        np.testing.assert_allclose(ys, want_ys, **TOL)
        assert_tree_close(carry, want_c)
        assert np.all(np.asarray(ys)[4:, 1] == 0.0) and np.all(np.asarray(ys)[1:, 2] == 0.0)
        mask_ys, _ = unroll(cell, p, xs, c0, mask=jnp.arange(T)[:, None] < lengths[None],
                            reverse=reverse)
        np.testing.assert_array_equal(mask_ys, ys)

    @parameterized.parameters(*CASES)
    def test_resets_restart_from_carry0(self, name, act):
        cell = cells.get_cell(name, act)
        p = random_params((name, act), jax.random.PRNGKey(1))
        xs, c0 = inputs(jax.random.PRNGKey(2)), carry0_for(name)
        resets = np.zeros((T, B), bool)
        resets[3, 0] = resets[5, 2] = resets[0, 1] = True
        ys, carry = unroll(cell, p, xs, c0, resets=jnp.asarray(resets))
        want_ys, want_c = ref.unroll_batch(ref.step_fn(name, act), ref.to_np(p), np.asarray(xs),
                                           np_carry(c0), resets=list(resets.T))
        np.testing.assert_allclose(ys, want_ys, **TOL)
        assert_tree_close(carry, want_c)
        # After a reset at t=3 sequence 0 evolves as a fresh sequence started at t=3.
        fresh, _ = unroll(cell, p, xs[3:, :1], jax.tree_util.tree_map(lambda c: c[:1], c0))
        np.testing.assert_allclose(ys[3:, :1], fresh, **TOL)


@pytest.mark.parametrize("name,act", CASES)
def test_bidirectional_concatenates_forward_and_reverse(name, act):
    cell = cells.get_cell(name, act)
    params = {"fwd": random_params((name, act), jax.random.PRNGKey(1)),
              "bwd": random_params((name, act), jax.random.PRNGKey(5))}
    xs = inputs(jax.random.PRNGKey(2))
    lengths = [T, 5, 2]
    ys, (cf, cb) = unroll_bidirectional(cell, params, xs, lengths=jnp.asarray(lengths))
    step = ref.step_fn(name, act)
    zero = tuple(np.zeros((B, H)) for _ in range(2)) if name == "lstm" else np.zeros((B, H))
    f_ys, f_c = ref.unroll_batch(step, ref.to_np(params["fwd"]), np.asarray(xs), zero,
                                 length=lengths)
    b_ys, b_c = ref.unroll_batch(step, ref.to_np(params["bwd"]), np.asarray(xs), zero,
                                 length=lengths, reverse=[True] * B)
    np.testing.assert_allclose(ys, np.concatenate([f_ys, b_ys], -1), **TOL)
    assert_tree_close((cf, cb), (f_c, b_c))


def test_stack_feeds_each_layer_the_previous_outputs():
    cell_a, cell_b = cells.get_cell("lstm"), cells.get_cell("gru")
    pa = random_params(("lstm", "tanh"), jax.random.PRNGKey(1))
    pb = random_params(("gru", "tanh"), jax.random.PRNGKey(2), D=H)
    xs = inputs(jax.random.PRNGKey(3))
    ys, (ca, cb) = unroll_stack([cell_a, cell_b], [pa, pb], xs)
    zeros = np.zeros((B, H))
    ya, want_ca = ref.unroll_batch(ref.lstm_step, ref.to_np(pa), np.asarray(xs), (zeros, zeros))
    yb, want_cb = ref.unroll_batch(ref.gru_step, ref.to_np(pb), ya, zeros)
    np.testing.assert_allclose(ys, yb, **TOL)
    assert_tree_close([ca, cb], [want_ca, want_cb])


def test_stack_dropout_between_layers_only():
    """Properties, not the library's key recipe. Identity layers (ReLU, W_xh = I, W_hh = 0) on
    positive inputs make each layer's output its input, so ys / xs shows every dropout applied:
    one mask between the two layers gives ratios in {0, 1/(1-p)} at keep rate 1-p; a mask on
    the input or on the last output as well would give 1/(1-p)^2 or a keep rate of (1-p)^2."""
    cell, p, shape = cells.get_cell("rnn", "relu"), 0.3, (60, 20, H)
    ident = {"W_xh": jnp.eye(H), "W_hh": jnp.zeros((H, H)), "b_h": jnp.zeros(H)}
    xs = 0.5 + jax.random.uniform(jax.random.PRNGKey(3), shape, jnp.float64)
    key = jax.random.PRNGKey(4)
    ys, _ = unroll_stack(cell, [ident, ident], xs, dropout=p, key=key)
    ratio = np.asarray(ys) / np.asarray(xs)
    kept = ratio != 0
    np.testing.assert_allclose(ratio[kept], 1.0 / (1.0 - p), rtol=1e-14)
    np.testing.assert_allclose(kept.mean(), 1.0 - p, atol=0.02)  # 4800 draws: sd 0.0066
    again, _ = unroll_stack(cell, [ident, ident], xs, dropout=p, key=key)
    other, _ = unroll_stack(cell, [ident, ident], xs, dropout=p, key=jax.random.PRNGKey(5))
    assert np.array_equal(again, ys) and not np.array_equal(other, ys)
    one, _ = unroll_stack(cell, [ident], xs, dropout=p, key=key)  # one layer: nothing between
    np.testing.assert_array_equal(one, xs)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        unroll_stack(cell, [ident, ident], xs, dropout=0.5)


@pytest.mark.parametrize("name,act", CASES)
def test_scan_unroll_and_checkpoint_change_nothing(name, act):
    cell = cells.get_cell(name, act)
    p = random_params((name, act), jax.random.PRNGKey(1))
    xs = inputs(jax.random.PRNGKey(2))

    def loss(p, **kw):
        ys, _ = unroll(cell, p, xs, **kw)
        return jnp.sum(ys ** 2)

    base = jax.value_and_grad(loss)(p)
    for kw in ({"unroll": 4}, {"checkpoint": True}, {"unroll": T, "checkpoint": True}):
        assert_tree_close(jax.value_and_grad(lambda p: loss(p, **kw))(p), base,
                          rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_unroll_preserves_dtype(dtype, name, key):
    cell = cells.get_cell(name)
    p = cell.init(key, D, H, dtype=dtype)
    ys, carry = unroll(cell, p, jnp.ones((T, B, D), dtype))
    assert ys.dtype == dtype
    assert all(c.dtype == dtype for c in jax.tree_util.tree_leaves(carry))


def test_int_inputs_equal_one_hot_inputs(key):
    cell = cells.get_cell("gru")
    p = random_params(("gru", "tanh"), key)
    ids = jax.random.randint(key, (T, B), 0, D)
    ys_int, _ = unroll(cell, p, ids)
    ys_hot, _ = unroll(cell, p, jax.nn.one_hot(ids, D, dtype=jnp.float64))
    np.testing.assert_allclose(ys_int, ys_hot, rtol=1e-13)


def test_jitted_unroll_traces_once():
    cell = cells.get_cell("lstm")
    p = random_params(("lstm", "tanh"), jax.random.PRNGKey(1))

    @jax.jit
    @chex.assert_max_traces(n=1)
    def run(p, xs):
        return unroll(cell, p, xs)[0]

    for seed in range(3):
        run(p, inputs(jax.random.PRNGKey(seed)))
    chex.clear_trace_counter()


@pytest.mark.parametrize("kwargs,err,match", [
    ({"xs": jnp.ones((T, B, D + 1))}, ValueError, r"expects D=3"),
    ({"xs": jnp.ones((T,))}, ValueError, r"xs must have shape \(T, D\) or \(T, B, D\)"),
    ({"xs": jnp.ones((0, B, D))}, ValueError, "no time steps"),
    ({"window": 0}, ValueError, "window must be a positive int"),
    ({"window": 2.5}, ValueError, "window must be a positive int"),
    ({"window": 2, "anchor": "middle"}, ValueError, "anchor must be one of"),
    ({"lengths": jnp.array([T + 1, 1, 1])}, ValueError, "longer than the sequence"),
    ({"lengths": jnp.array([1, 1])}, ValueError, r"lengths needs batched xs"),
    ({"mask": jnp.ones((T + 1, B), bool)}, ValueError, "mask must have shape"),
    ({"resets": jnp.ones((T, 2), bool)}, ValueError, "resets must have shape"),
    ({"carry0": jnp.zeros((B, H + 1))}, ValueError, "carry0 leaves must have shape"),
])
def test_bad_input_is_named(kwargs, err, match):
    cell = cells.get_cell("rnn")
    p = random_params(("rnn", "tanh"), jax.random.PRNGKey(1))
    xs = kwargs.pop("xs", jnp.ones((T, B, D)))
    carry0 = kwargs.pop("carry0", None)
    with pytest.raises(err, match=match):
        unroll(cell, p, xs, carry0, **kwargs)


def test_lstm_carry_must_be_named(key):
    cell = cells.get_cell("lstm")
    p = cell.init(key, D, H)
    with pytest.raises(TypeError, match="LSTMCarry"):
        unroll(cell, p, jnp.ones((T, D)), (jnp.zeros(H), jnp.zeros(H)))
    with pytest.raises(TypeError, match="jaxrnn Cell"):
        unroll("lstm", p, jnp.ones((T, D)))
