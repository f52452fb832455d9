"""Vmappable training pieces (traced truncation window, traced clip), the gradient diagnostics,
and the memory-task data, against numpy float64 references."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrnn import cells, model
from jaxrnn.data.memory import ADDING_BASELINE_MSE, adding_batch, copy_baseline_nats, copy_batch
from jaxrnn.optim import make_optimizer
from jaxrnn.grad.diagnostics import carry_grad_norms, gradient_bias
from jaxrnn.model import readouts
from jaxrnn.optim import make_optimizer
from jaxrnn.sweep.traced import traced_cuts, unroll_traced
from jaxrnn.unroll import window_cuts
from reference_bptt import reference_bptt

T, B, D, H = 9, 2, 3, 4


def _problem(name, act, seed=0):
    key = jax.random.PRNGKey(seed)
    params = model.init_model(key, name, D, H, 2, activation=act, dtype=jnp.float64,
                              cell_kwargs={"input_init": "normal(0.8)",
                                           "recurrent_init": "normal(0.6)"})
    xs = jax.random.normal(jax.random.PRNGKey(seed + 1), (T, B, D), jnp.float64)
    ys = jax.random.normal(jax.random.PRNGKey(seed + 2), (B, 2), jnp.float64)
    return cells.get_cell(name, act), params, xs, ys


@pytest.mark.parametrize("name, act", [("rnn", "tanh"), ("rnn", "sigmoid"), ("lstm", "tanh"),
                                       ("gru", "tanh")])
def test_traced_window_gradient_equals_numpy_truncated_bptt(name, act):
    cell, params, xs, ys = _problem(name, act)

    @jax.jit
    def grads(window, anchor_end):
        def loss(p):
            out = []
            for anchor in ("start", "end"):
                hs, _ = unroll_traced(cell, p["cell"], xs, window, anchor=anchor)
                out.append(model.get_loss("all_steps")(readouts(p["readout"], hs), ys))
            return jnp.where(anchor_end, out[1], out[0])
        return jax.grad(loss)(params)

    for k in (1, 2, 4, T, 0):
        for anchor in ("start", "end"):
            got = grads(jnp.int32(k), anchor == "end")
            _, want = reference_bptt(name, act, params, xs, ys, "all_steps",
                                     window=k or None, anchor=anchor)
            for group in ("cell", "readout"):
                for leaf, value in want[group].items():
                    np.testing.assert_allclose(got[group][leaf], value, rtol=1e-10,
                                               atol=1e-13, err_msg=f"{k} {anchor} {leaf}")


def test_traced_cuts_equal_window_cuts():
    for T_ in (1, 5, 12):
        for k in (1, 2, 3, 5, 12, 20):
            for anchor in ("start", "end"):
                np.testing.assert_array_equal(traced_cuts(T_, jnp.int32(k), anchor),
                                              window_cuts(T_, k, anchor))
        assert not traced_cuts(T_, 0).any()


def _run_updates(opt, params, grads_seq):
    """Every update of ``opt`` over the gradients ``grads_seq`` (a list), params moving."""
    state, out = opt.init(params), []
    for grads in grads_seq:
        updates, state = opt.update(grads, state, params)
        params = jax.tree_util.tree_map(lambda p, u: p + u, params, updates)
        out.append(updates)
    return out


def test_traced_clip_and_lr_equal_make_optimizer():
    """Over four steps, so Adam's step count (bias correction), AdaGrad's accumulator and
    RMSProp's average must advance the same way with a traced lr and clip value."""
    params = {"a": jnp.array([0.5, -2.0, 3.0]), "b": jnp.array([[1.0, -1.0]])}
    grads_seq = [{"a": jnp.array([4.0, -0.1, 0.3]), "b": jnp.array([[-3.0, 2.0]])},
                 {"a": jnp.array([-1.0, 0.7, 0.2]), "b": jnp.array([[0.5, 2.5]])},
                 {"a": jnp.array([0.1, 0.1, -5.0]), "b": jnp.array([[1.0, -0.2]])},
                 {"a": jnp.array([2.0, -3.0, 0.4]), "b": jnp.array([[0.0, 0.3]])}]
    clips = ("none", "value", "global_norm")
    for name in ("sgd", "adagrad", "adam", "rmsprop"):
        @jax.jit
        def traced(lr, cv, name=name):
            opts = [make_optimizer(name, lr, clip=clip, clip_value=cv) for clip in clips]
            return [_run_updates(opt, params, grads_seq) for opt in opts]

        got = traced(jnp.float64(0.1), jnp.float64(1.5))
        for clip, steps in zip(clips, got):
            ref = make_optimizer(name, 0.1, clip=clip, clip_value=None if clip == "none" else 1.5)
            want = _run_updates(ref, params, grads_seq)
            assert not np.allclose(want[0]["a"], want[-1]["a"])  # the updates do move
            for t, (g, w) in enumerate(zip(steps, want)):
                for leaf in params:
                    np.testing.assert_allclose(g[leaf], w[leaf], rtol=1e-14,
                                               err_msg=f"{name} {clip} step {t}")


def test_gradient_bias_and_carry_grad_norms():
    g = {"x": jnp.array([3.0, 4.0])}
    b = gradient_bias({"x": jnp.array([3.0, 0.0])}, g)
    assert float(b["cos"]) == pytest.approx(0.6) and float(b["rel"]) == pytest.approx(0.8)
    zero = gradient_bias(g, {"x": jnp.zeros(2)})
    assert np.isnan(zero["cos"]) and np.isnan(zero["rel"])
    # ||dL/dh_t|| by numpy BPTT of a tanh RNN with the loss on the last step
    cell, params, xs, ys = _problem("rnn", "tanh")
    loss = model.get_loss("last")
    norms = carry_grad_norms(cell, params, xs, lambda preds: loss(preds, ys))
    p = {k: np.asarray(v) for k, v in params["cell"].items()}
    W_hy = np.asarray(params["readout"]["W_hy"])
    hs, xs = np.zeros((T + 1, B, H)), np.asarray(xs)
    for t in range(T):
        hs[t + 1] = np.tanh(xs[t] @ p["W_xh"].T + hs[t] @ p["W_hh"].T + p["b_h"])
    preds = hs[T] @ W_hy.T + np.asarray(params["readout"]["b_y"])
    dh = 2.0 * (preds - np.asarray(ys)) @ W_hy / B  # (B, H) at step T
    want = [np.linalg.norm(dh)]
    for t in range(T, 1, -1):
        dh = (dh * (1.0 - hs[t] ** 2)) @ p["W_hh"]
        want.append(np.linalg.norm(dh))
    np.testing.assert_allclose(norms, want[::-1], rtol=1e-10)


def test_adding_batch():
    xs, y = adding_batch(jax.random.PRNGKey(0), 10, 2000, jnp.float64)
    assert xs.shape == (10, 2000, 2) and y.shape == (2000, 1)
    u, m = np.asarray(xs[..., 0]), np.asarray(xs[..., 1])
    assert np.all(m[:5].sum(0) == 1) and np.all(m[5:].sum(0) == 1)
    np.testing.assert_allclose(y[:, 0], (u * m).sum(0), rtol=1e-15)
    assert np.mean((np.asarray(y) - 1.0) ** 2) == pytest.approx(ADDING_BASELINE_MSE, rel=0.1)
    with pytest.raises(ValueError, match="T must be an int >= 2"):
        adding_batch(jax.random.PRNGKey(0), 1, 3)


def test_copy_batch():
    xs, ys = copy_batch(jax.random.PRNGKey(1), 3, 4, 5, 7)
    xs, ys = np.asarray(xs), np.asarray(ys)
    assert xs.shape == ys.shape == (10, 7)
    np.testing.assert_array_equal(ys[-3:], xs[:3])
    assert np.all(xs[7] == 6) and np.all(xs[3:7] == 0) and np.all(ys[:7] == 0)
    assert copy_baseline_nats(3, 4, 5) == pytest.approx(3 * np.log(5) / 10)
