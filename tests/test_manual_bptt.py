"""Manual BPTT against the independent numpy float64 reference (tests/reference_bptt.py).

Every cell variant x loss is checked on every window mode (none, anchored at the start, at the
end, window 1, window >= T) with a random carried carry0; truncation is data inside the compiled
manual BPTT, so the windows cost no recompilation. Hypothesis varies the shapes.
"""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxrnn.cells import LSTMCarry
from jaxrnn.grad.gradcheck import make_problem
from jaxrnn.grad.manual_bptt import manual_bptt
from jaxrnn.model import LOSSES, sequence_loss
from reference_bptt import reference_bptt

VARIANTS = [("rnn", "tanh"), ("rnn", "sigmoid"), ("rnn", "relu"), ("lstm", "tanh"),
            ("gru", "tanh")]
WINDOWS = [(None, "start"), (2, "start"), (2, "end"), (3, "end"), (1, "start"), (1, "end"),
           (6, "start"), (9, "end")]
RTOL = 1e-12  # relative to each leaf's largest entry


def assert_close(grads, ref, rtol=RTOL):
    for part in ("cell", "readout"):
        assert set(grads[part]) == set(ref[part])
        for k, want in ref[part].items():
            got = np.asarray(grads[part][k])
            assert got.shape == want.shape, (part, k)
            scale = max(np.max(np.abs(want)), 1e-300)
            np.testing.assert_allclose(got, want, rtol=0, atol=rtol * scale, err_msg=f"{k}")


def check(problem, activation, window, anchor):
    cell, params, xs, targets, loss, carry0 = problem[:6]
    got = manual_bptt(cell, params, xs, targets, loss, carry0, window=window, anchor=anchor)
    value, ref = reference_bptt(cell.name, activation, params, xs, targets, loss, carry0, window,
                                anchor)
    np.testing.assert_allclose(float(got.loss), value, rtol=1e-13)
    assert_close(got.grads, ref)
    return got


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("cell,activation", VARIANTS)
def test_every_cell_loss_and_window_matches_reference(cell, activation, loss):
    problem = make_problem(cell, activation, loss, steps=6, batch=3, hidden=3, random_carry=True,
                           seed=len(loss))
    full = check(problem, activation, None, "start")
    for window, anchor in WINDOWS[1:]:
        got = check(problem, activation, window, anchor)
        np.testing.assert_allclose(got.loss, full.loss, rtol=1e-15)  # truncation: same forward


@given(data=st.data())
@pytest.mark.parametrize("cell,activation", VARIANTS)
def test_random_shapes_match_reference(cell, activation, data):
    loss = data.draw(st.sampled_from(list(LOSSES)), "loss")
    T = data.draw(st.integers(1, 7), "T")
    problem = make_problem(
        cell, activation, loss, steps=T, batch=data.draw(st.sampled_from([0, 1, 3]), "B"),
        hidden=data.draw(st.integers(1, 4), "H"), inputs=data.draw(st.integers(1, 4), "D"),
        outputs=data.draw(st.integers(1, 3), "O"), bias=data.draw(st.booleans(), "bias"),
        random_carry=data.draw(st.booleans(), "carry"), seed=data.draw(st.integers(0, 99)))
    for _ in range(3):
        window = data.draw(st.one_of(st.none(), st.integers(1, T + 1)), "window")
        check(problem, activation, window, data.draw(st.sampled_from(["start", "end"])))


def test_loss_and_carry_equal_the_model():
    p = make_problem("lstm", "tanh", "xent_mean", steps=6, batch=3, hidden=3,
                     random_carry=True)
    got = manual_bptt(*p[:6], window=2, anchor="end")
    value, carry = jax.jit(sequence_loss, static_argnums=(0, 4))(*p[:6])
    np.testing.assert_allclose(got.loss, value, rtol=1e-13)
    chex.assert_trees_all_close(got.carry, carry, rtol=1e-13)
    assert isinstance(got.carry, LSTMCarry) and got.dhs.shape == (6, 3, 3)


def test_streamed_windows_sum_to_the_truncated_gradient():
    """Chunks of k steps, each from the previous chunk's (constant) final carry, with a loss
    summed over steps: the summed chunk gradients equal one pass with window=k anchored at
    the start."""
    p = make_problem("gru", "tanh", "xent_sum", steps=6, batch=3, hidden=3, random_carry=True)
    cell, params, xs, labels, loss, carry = p[:6]
    total = jax.tree_util.tree_map(jnp.zeros_like, params)
    for s in range(0, 6, 3):
        r = manual_bptt(cell, params, xs[s:s + 3], labels[s:s + 3], loss, carry)
        total = jax.tree_util.tree_map(jnp.add, total, r.grads)
        carry = r.carry
    whole = manual_bptt(cell, params, xs, labels, loss, p.carry0, window=3, anchor="start")
    chex.assert_trees_all_close(total, whole.grads, rtol=1e-12, atol=1e-14)


def test_int_inputs_equal_one_hot_float_inputs():
    p = make_problem("rnn", "tanh", "xent_sum", steps=6, batch=3, hidden=3)
    onehot = jax.nn.one_hot(p.xs, 3, dtype=jnp.float64)
    a = manual_bptt(p.cell, p.params, p.xs, p.targets, p.loss, window=2).grads
    b = manual_bptt(p.cell, p.params, onehot, p.targets, p.loss, window=2).grads
    chex.assert_trees_all_close(a, b, rtol=1e-14)


def test_jits_and_float32_follows_params():
    p = make_problem("rnn", "tanh", "last", steps=6, hidden=3, dtype="float32")
    f = jax.jit(lambda params, xs: manual_bptt(p.cell, params, xs, p.targets, "last",
                                               window=2).grads)
    grads = f(p.params, p.xs)
    assert all(g.dtype == jnp.float32 for g in jax.tree_util.tree_leaves(grads))
    p64 = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), (p.params, p.xs, p.targets))
    want = reference_bptt("rnn", "tanh", *p64, "last", None, 2, "start")[1]
    assert_close(grads, want, rtol=1e-5)  # float32 rounding


@pytest.mark.parametrize("kwargs,match", [
    (dict(loss="mse"), "unknown loss"),
    (dict(targets=np.zeros((2, 3))), "targets for loss 'last'"),
    (dict(xs=np.zeros((4, 2, 5))), "xs must be"),
    (dict(carry0=np.zeros((2, 4))), "carry0 leaves"),
    (dict(window=0), "window must be a positive int"),
    (dict(window=2, anchor="middle"), "anchor must be one of"),
])
def test_bad_input_raises_clear_errors(kwargs, match):
    p = make_problem("rnn", "tanh", "last", steps=6, batch=3, hidden=3)
    args = dict(xs=p.xs, targets=p.targets, loss="last", carry0=None, window=None,
                anchor="start")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        manual_bptt(p.cell, p.params, args["xs"], args["targets"], args["loss"],
                    args["carry0"], window=args["window"], anchor=args["anchor"])


def test_rejects_non_cell():
    with pytest.raises(TypeError, match="Cell"):
        manual_bptt("rnn", {}, np.zeros((2, 1)), np.zeros(1), "last")
