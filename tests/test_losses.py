"""Losses and the named model losses against numpy."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrnn import losses
from jaxrnn.cells import get_cell
from jaxrnn.model import LOSSES, forward, get_loss, init_model, readouts, sequence_loss

T, B, O, V = 6, 3, 2, 5


def np_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_squared_errors_match_numpy():
    rng = np.random.default_rng(0)
    preds, y = rng.normal(size=(T, B, O)), rng.normal(size=(B, O))
    last = ((preds[-1] - y) ** 2).sum(-1)
    np.testing.assert_allclose(losses.squared_error_last(jnp.asarray(preds), jnp.asarray(y),
                                                         scale=0.5), 0.5 * last.sum(), rtol=1e-13)
    np.testing.assert_allclose(get_loss("last")(jnp.asarray(preds), jnp.asarray(y)), last.mean(),
                               rtol=1e-13)
    every = np.mean([((preds[t] - y) ** 2).sum(-1).mean() for t in range(T)])
    np.testing.assert_allclose(get_loss("all_steps")(jnp.asarray(preds), jnp.asarray(y)), every,
                               rtol=1e-13)


def test_cross_entropy_matches_numpy():
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(T, B, V)), rng.integers(0, V, size=(T, B))
    nll = -np.take_along_axis(np_log_softmax(logits), labels[..., None], -1)[..., 0]
    z, c = jnp.asarray(logits), jnp.asarray(labels)
    np.testing.assert_allclose(get_loss("xent_sum")(z, c), nll.sum(), rtol=1e-13)
    np.testing.assert_allclose(get_loss("xent_mean")(z, c), nll.mean(), rtol=1e-13)
    mask = np.arange(T)[:, None] < np.array([T, 2, 4])[None]
    np.testing.assert_allclose(losses.softmax_cross_entropy(z, c, mask=jnp.asarray(mask)),
                               nll[mask].mean(), rtol=1e-13)
    np.testing.assert_allclose(losses.nats_to_bits(np.log(2.0)), 1.0)


def test_masked_cross_entropy_sum_and_a_fully_masked_batch():
    rng = np.random.default_rng(2)
    logits, labels = rng.normal(size=(T, B, V)), rng.integers(0, V, size=(T, B))
    nll = -np.take_along_axis(np_log_softmax(logits), labels[..., None], -1)[..., 0]
    z, c = jnp.asarray(logits), jnp.asarray(labels)
    mask = np.arange(T)[:, None] < np.array([T, 2, 4])[None]
    np.testing.assert_allclose(losses.softmax_cross_entropy(z, c, reduce="sum",
                                                            mask=jnp.asarray(mask)),
                               nll[mask].sum(), rtol=1e-13)
    none = jnp.zeros((T, B), bool)
    for reduce in ("sum", "mean"):
        value, grad = jax.value_and_grad(
            lambda q: losses.softmax_cross_entropy(q, c, reduce=reduce, mask=none))(z)
        assert float(value) == 0.0, reduce  # no step counts: not nan (0/0), not the unmasked loss
        assert np.array_equal(np.asarray(grad), np.zeros((T, B, V))), reduce


def test_loss_shape_errors():
    with pytest.raises(ValueError, match="target shape"):
        get_loss("last")(jnp.zeros((T, B, O)), jnp.zeros((B + 1, O)))
    with pytest.raises(ValueError, match="labels shape"):
        get_loss("xent_sum")(jnp.zeros((T, B, V)), jnp.zeros((T, B + 1), int))
    with pytest.raises(ValueError, match="unknown loss 'mse'"):
        get_loss("mse")
    with pytest.raises(ValueError, match="reduce must be one of"):
        losses.softmax_cross_entropy(jnp.zeros((T, V)), jnp.zeros(T, int), reduce="max")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_forward_is_readout_of_every_step(cell, key):
    params = init_model(key, cell, 3, 4, O, dtype=jnp.float64)
    xs = jax.random.normal(key, (T, B, 3), jnp.float64)
    preds, _ = forward(get_cell(cell), params, xs)
    assert preds.shape == (T, B, O)
    from jaxrnn.unroll import unroll
    hs, _ = unroll(get_cell(cell), params["cell"], xs)
    W, b = np.asarray(params["readout"]["W_hy"]), np.asarray(params["readout"]["b_y"])
    np.testing.assert_allclose(preds, np.asarray(hs) @ W.T + b, rtol=1e-12)
    loss, _ = sequence_loss(get_cell(cell), params, xs, jnp.zeros((B, O)), "last")
    np.testing.assert_allclose(loss, (np.asarray(preds)[-1] ** 2).sum(-1).mean(), rtol=1e-12)
    assert set(LOSSES) == {"last", "last_half_sum", "all_steps", "xent_sum", "xent_mean"}


def test_mask_and_readout_shapes_are_checked():
    logits, labels = jnp.zeros((4, 2, 3)), jnp.zeros((4, 2), jnp.int32)
    with pytest.raises(AssertionError):
        losses.softmax_cross_entropy(logits, labels, mask=jnp.ones((4, 1), bool))
    with pytest.raises(AssertionError):
        readouts({"W_hy": jnp.zeros((3, 5))}, jnp.zeros((4, 2, 6)))
