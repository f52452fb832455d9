"""Truncated BPTT: stop_gradient windows against Python loops that detach explicitly."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrnn import cells
from jaxrnn.unroll import detach, unroll, unroll_tbptt, window_cuts
from test_cells import CASES, D, H, random_params

T, B = 11, 2


def setup(name, act, seed=0):
    cell = cells.get_cell(name, act)
    p = random_params((name, act), jax.random.PRNGKey(seed))
    xs = jax.random.normal(jax.random.PRNGKey(seed + 1), (T, B, D), jnp.float64)
    w = jax.random.normal(jax.random.PRNGKey(seed + 2), (T, B, H), jnp.float64)
    return cell, p, xs, w


def explicit_cuts(T, k, anchor):
    """The documented rule, written out: the carry entering step t is detached."""
    if anchor == "start":
        return {t for t in range(1, T) if t % k == 0}
    return {t for t in range(1, T) if (T - t) % k == 0}


def loop_unroll(cell, p, xs, cuts, carry0=None):
    """Python loop over Cell.step (vmapped over the batch) with explicit stop_gradient."""
    step = jax.vmap(cell.step, (None, 0, 0))
    carry = cell.init_carry(p, xs.shape[1:2], xs.dtype) if carry0 is None else carry0
    ys = []
    for t in range(xs.shape[0]):
        if t in cuts:
            carry = jax.tree_util.tree_map(jax.lax.stop_gradient, carry)
        carry, y = step(p, carry, xs[t])
        ys.append(y)
    return jnp.stack(ys), carry


def weighted(ys, w):
    return jnp.sum(ys * w)


def last_step(ys, w):
    return jnp.sum(ys[-1] * w[-1])


@pytest.mark.parametrize("name,act", CASES)
@pytest.mark.parametrize("anchor", ["start", "end"])
def test_forward_values_are_untouched(name, act, anchor):
    cell, p, xs, _ = setup(name, act)
    full, c_full = unroll(cell, p, xs)
    for k in (1, 3, 4):
        ys, c = unroll(cell, p, xs, window=k, anchor=anchor)
        np.testing.assert_array_equal(ys, full)
        for a, b in zip(jax.tree_util.tree_leaves(c), jax.tree_util.tree_leaves(c_full)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name,act", CASES)
@pytest.mark.parametrize("anchor", ["start", "end"])
def test_window_at_least_T_is_full_bptt_exactly(name, act, anchor):
    cell, p, xs, w = setup(name, act)
    full = jax.grad(lambda p: weighted(unroll(cell, p, xs)[0], w))(p)
    for k in (T, T + 5):
        got = jax.grad(lambda p: weighted(unroll(cell, p, xs, window=k, anchor=anchor)[0], w))(p)
        for key in full:
            np.testing.assert_array_equal(got[key], full[key])


@pytest.mark.parametrize("name,act", CASES)
@pytest.mark.parametrize("anchor", ["start", "end"])
@pytest.mark.parametrize("loss", [weighted, last_step])
def test_truncated_gradient_equals_explicit_detach(name, act, anchor, loss):
    cell, p, xs, w = setup(name, act)
    full = jax.grad(lambda p: loss(unroll(cell, p, xs)[0], w))(p)
    for k in (1, 2, 4):
        got = jax.grad(lambda p: loss(unroll(cell, p, xs, window=k, anchor=anchor)[0], w))(p)
        want = jax.grad(lambda p: loss(loop_unroll(cell, p, xs, explicit_cuts(T, k, anchor))[0],
                                       w))(p)
        for key in want:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-10, atol=1e-13)
        assert any(not np.allclose(got[key], full[key]) for key in full), "truncation cut nothing"


@pytest.mark.parametrize("anchor,depth", [("end", 5), ("start", 1)])
def test_many_to_one_gradient_reaches_back_exactly_one_window(anchor, depth):
    """The vidhya case: loss on the last step, window 5. T = 11 = 2*5 + 1, so windows anchored
    at the end cover [6, 11) (5 steps) while windows from the start leave [10, 11) (1 step)."""
    cell, p, xs, w = setup("rnn", "sigmoid")

    def loss(xs):
        return last_step(unroll(cell, p, xs, window=5, anchor=anchor)[0], w)

    reach = np.abs(np.asarray(jax.grad(loss)(xs))).sum(axis=(1, 2))  # (T,)
    assert np.all(reach[:T - depth] == 0.0)
    assert np.all(reach[T - depth:] > 0.0)


def test_streaming_windows_equal_start_anchored_truncation():
    """A long sequence in consecutive windows with the carry passed on and detached."""
    cell, p, xs, w = setup("lstm", "tanh")
    k = 4

    def streamed(p):
        carry, total = None, 0.0
        for s in range(0, T, k):
            ys, carry = unroll(cell, p, xs[s:s + k], carry)
            carry = detach(carry)
            total = total + weighted(ys, w[s:s + k])
        return total

    def windowed(p):
        return weighted(unroll(cell, p, xs, window=k, anchor="start")[0], w)

    np.testing.assert_allclose(streamed(p), windowed(p), rtol=1e-13)
    g_s, g_w = jax.grad(streamed)(p), jax.grad(windowed)(p)
    for key in g_s:
        np.testing.assert_allclose(g_w[key], g_s[key], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("anchor", ["start", "end"])
def test_windows_follow_each_sequence_length_and_direction(anchor):
    cell, p, xs, w = setup("gru", "tanh")
    lengths = [T, 7]
    k = 3
    for reverse in (False, True):
        def loss(p):
            ys, _ = unroll(cell, p, xs, window=k, anchor=anchor, reverse=reverse,
                           lengths=jnp.asarray(lengths))
            return weighted(ys, w)

        got = jax.grad(loss)(p)
        want = None
        for b, n in enumerate(lengths):
            seq = xs[:n, b:b + 1][::-1] if reverse else xs[:n, b:b + 1]
            wb = w[:n, b:b + 1][::-1] if reverse else w[:n, b:b + 1]
            g = jax.grad(lambda p: weighted(loop_unroll(cell, p, seq,
                                                        explicit_cuts(n, k, anchor))[0], wb))(p)
            want = g if want is None else jax.tree_util.tree_map(jnp.add, want, g)
        for key in want:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-10, atol=1e-13)


def test_window_cuts_examples():
    np.testing.assert_array_equal(np.flatnonzero(window_cuts(10, 4, "start")), [4, 8])
    np.testing.assert_array_equal(np.flatnonzero(window_cuts(10, 4, "end")), [2, 6])
    np.testing.assert_array_equal(np.flatnonzero(window_cuts(10, 10, "end")), [])


def tbptt_reference(cell, p, xs, k1, k2):
    """TBPTT(k1, k2) by brute force: step t's output recomputed from the true carry at
    max(0, (s + 1) k1 - k2), detached, where s = t // k1 is t's block."""
    true_carries = [cell.init_carry(p, xs.shape[1:2], xs.dtype)]
    step = jax.vmap(cell.step, (None, 0, 0))
    for t in range(T):
        true_carries.append(step(jax.lax.stop_gradient(p), true_carries[-1], xs[t])[0])
    ys = []
    for t in range(T):
        start = max(0, (t // k1 + 1) * k1 - k2)
        carry = detach(true_carries[start])
        for u in range(start, t + 1):
            carry, y = step(p, carry, xs[u])
        ys.append(y)
    return jnp.stack(ys)


@pytest.mark.parametrize("name,act", [("rnn", "tanh"), ("lstm", "tanh")])
@pytest.mark.parametrize("k1,k2", [(2, 5), (3, 3), (4, 6), (1, 2)])
def test_tbptt_k1_k2_matches_brute_force(name, act, k1, k2):
    cell, p, xs, w = setup(name, act)
    ys, carry = unroll_tbptt(cell, p, xs, k1=k1, k2=k2)
    full, c_full = unroll(cell, p, xs)
    np.testing.assert_allclose(ys, full, rtol=1e-12)
    for a, b in zip(jax.tree_util.tree_leaves(carry), jax.tree_util.tree_leaves(c_full)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    got = jax.grad(lambda p: weighted(unroll_tbptt(cell, p, xs, k1=k1, k2=k2)[0], w))(p)
    want = jax.grad(lambda p: weighted(tbptt_reference(cell, p, xs, k1, k2), w))(p)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-10, atol=1e-13)


def test_tbptt_with_equal_k_is_the_start_anchored_window():
    cell, p, xs, w = setup("gru", "tanh")
    got = jax.grad(lambda p: weighted(unroll_tbptt(cell, p, xs, k1=3, k2=3)[0], w))(p)
    want = jax.grad(lambda p: weighted(unroll(cell, p, xs, window=3)[0], w))(p)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-10, atol=1e-13)


def test_tbptt_bad_arguments():
    cell, p, xs, _ = setup("rnn", "tanh")
    with pytest.raises(ValueError, match="k2 .* must be >= k1"):
        unroll_tbptt(cell, p, xs, k1=4, k2=2)
    with pytest.raises(ValueError, match="k1 must be a positive int"):
        unroll_tbptt(cell, p, xs, k1=0, k2=2)
