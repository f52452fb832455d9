"""``unroll(backward="cudnn")`` (``jaxrnn.cudnn_lstm``): the packing into cuDNN's weight layout
and the gradients, checked on CPU in float64 through jax's reference ``lstm_ref`` (the cuDNN
kernel itself needs a GPU: its test is skipped elsewhere); refusals off a GPU and for options
cuDNN does not support."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrnn import GATES, LSTMCarry, get_cell, unroll
from jaxrnn.cudnn_lstm import cudnn_kernel, pack, reference_kernel, unroll_cudnn
from jaxrnn.grad.manual_bptt import manual_bptt
from jaxrnn.model import readouts

T, B, D, H, O = 6, 3, 4, 5, 2
LENGTHS = jnp.array([6, 4, 1])
ON_GPU = jax.default_backend() == "gpu"


@pytest.fixture(scope="module")
def problem():
    """LSTM and readout params, inputs, a non-zero initial carry and targets (numpy float64)."""
    rng = np.random.default_rng(11)
    cell = {}
    for g in GATES["lstm"]:
        cell.update({f"W_x{g}": rng.normal(0, 0.5, (H, D)), f"W_h{g}": rng.normal(0, 0.5, (H, H)),
                     f"b_{g}": rng.normal(0, 0.3, H)})
    params = {"cell": cell, "readout": {"W_hy": rng.normal(0, 0.5, (O, H)),
                                        "b_y": rng.normal(0, 0.1, O)}}
    carry0 = LSTMCarry(rng.normal(0, 0.5, (B, H)), rng.normal(0, 1, (B, H)))
    return params, rng.normal(size=(T, B, D)), carry0, rng.normal(size=(B, O))


def test_packing_runs_jaxrnns_lstm(problem):
    """Outputs and final carry of the packed weights through lstm_ref equal ``unroll``'s,
    with lengths (zero outputs and a frozen carry past each sequence's end)."""
    params, xs, carry0, _ = problem
    cell = get_cell("lstm")
    ys, carry = unroll_cudnn(cell, params["cell"], xs, carry0, lengths=LENGTHS,
                             kernel=reference_kernel)
    ys_ref, carry_ref = unroll(cell, params["cell"], xs, carry0, lengths=LENGTHS)
    assert ys.shape == (T, B, H)
    np.testing.assert_allclose(ys, ys_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(carry.h, carry_ref.h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(carry.c, carry_ref.c, rtol=1e-12, atol=1e-14)
    assert pack(params["cell"]).shape == (4 * H * (D + H) + 8 * H,)


def test_gradients_match_manual_bptt(problem):
    """d/dparams of the all-steps squared error over valid steps, through the packed weights,
    equals the hand-derived BPTT (``grad.manual_bptt``) for every cell and readout param."""
    params, xs, carry0, y = problem
    cell = get_cell("lstm")
    valid = (jnp.arange(T)[:, None] < LENGTHS[None, :])  # (T, B)

    def loss(p):
        hs, _ = unroll_cudnn(cell, p["cell"], xs, carry0, lengths=LENGTHS,
                             kernel=reference_kernel)
        preds = readouts(p["readout"], hs)  # (T, B, O)
        err = jnp.sum((preds - y[None]) ** 2, -1)  # (T, B)
        return jnp.sum(jnp.where(valid, err, 0.0)) / jnp.sum(valid)

    value, grads = jax.jit(jax.value_and_grad(loss))(params)
    want = manual_bptt(cell, params, xs, y, "all_steps", carry0, lengths=LENGTHS)
    np.testing.assert_allclose(value, want.loss, rtol=1e-12)
    for part in ("cell", "readout"):
        for name, g in want.grads[part].items():
            np.testing.assert_allclose(grads[part][name], g, rtol=1e-10, atol=1e-13,
                                       err_msg=f"{part}/{name}")


@pytest.mark.skipif(ON_GPU, reason="the refusal is for machines without a GPU")
def test_refused_off_a_gpu(problem):
    params, xs, carry0, _ = problem
    with pytest.raises(ValueError, match="needs an NVIDIA GPU.*backward='scan'"):
        unroll(get_cell("lstm"), params["cell"], xs, carry0, backward="cudnn")


@pytest.mark.parametrize("option", [{"window": 2}, {"reverse": True},
                                    {"mask": jnp.ones((T, B), bool)}])
def test_unsupported_options_are_refused(problem, option):
    params, xs, carry0, _ = problem
    with pytest.raises(ValueError, match=f"without .*got cell 'lstm' with {next(iter(option))}"):
        unroll(get_cell("lstm"), params["cell"], xs, carry0, backward="cudnn", **option)
    with pytest.raises(ValueError, match="got cell 'gru'"):
        unroll(get_cell("gru"), {}, xs, backward="cudnn")


@pytest.mark.skipif(not ON_GPU, reason="cuDNN needs an NVIDIA GPU")
def test_cudnn_kernel_matches_the_reference_on_gpu(problem):
    """On a GPU: the cuDNN kernel's outputs and gradients equal lstm_ref's (float32 there)."""
    params, xs, carry0, _ = problem
    p32 = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), params["cell"])
    x32, c32 = xs.astype(jnp.float32), jax.tree_util.tree_map(lambda a: a.astype(jnp.float32),
                                                              carry0)
    cell = get_cell("lstm")

    def run(kernel):
        def f(p):
            ys, carry = unroll_cudnn(cell, p, x32, c32, lengths=LENGTHS, kernel=kernel)
            return jnp.sum(ys ** 2) + jnp.sum(carry.c), ys
        return jax.value_and_grad(f, has_aux=True)(p32)

    (_, ys), g = run(cudnn_kernel)
    (_, ys_ref), g_ref = run(reference_kernel)
    np.testing.assert_allclose(ys, ys_ref, rtol=1e-4, atol=1e-5)
    for name in g_ref:
        np.testing.assert_allclose(g[name], g_ref[name], rtol=1e-3, atol=1e-4, err_msg=name)
