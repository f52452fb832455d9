"""The sine task trained with ``unroll_method="deer"``: the same learning curve as the scan."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrnn import train
from jaxrnn.tasks.sine import main as sine
from jaxrnn.tasks.sine.config import PRESETS
from jaxrnn.tasks.sine.fit import epoch_batches, init_params, make_loss_fn

TINY = dataclasses.replace(PRESETS["adam-rnn"], n_points=60, x_stop=12.0, seq_len=6,
                           hidden=5, batch_size=16, learning_rate=2e-2, dtype="float64")


def test_deer_training_follows_the_scan_curve(key):
    """Ten Adam steps: the per-step losses and the final params of DEER-evaluated training
    equal the scan's to 1e-9 (float64; DEER converged to ~100 ε every step)."""
    data = sine.build_data(TINY)
    xs, ys = epoch_batches(TINY, key, data.xe_train, jnp.asarray(data.split.y_train))
    runs = {}
    for method in ("scan", "deer"):
        cfg = dataclasses.replace(TINY, unroll_method=method)
        opt = sine.make_optimizer(cfg, len(data.split.x_train))
        step = jax.jit(train.make_train_step(make_loss_fn(cfg), opt))
        p = init_params(cfg, key, 1, 1, jnp.float64)
        s, losses = opt.init(p), []
        for i in range(10):
            p, s, m = step(p, s, (xs[i % len(xs)], ys[i % len(ys)]))
            losses.append(float(m["loss"]))
        runs[method] = (np.array(losses), p)
    np.testing.assert_allclose(runs["deer"][0], runs["scan"][0], rtol=1e-9)
    assert runs["scan"][0][-1] < 0.9 * runs["scan"][0][0]  # a curve that moves: it learns
    for a, b in zip(jax.tree_util.tree_leaves(runs["deer"][1]),
                    jax.tree_util.tree_leaves(runs["scan"][1])):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_a_truncation_window_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="bptt_window=0"):
        dataclasses.replace(PRESETS["vidhya"], unroll_method="deer").check()
