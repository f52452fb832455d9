"""Issue 17: losses with lengths ignore the padded steps (numpy per-sequence loops as truth)."""
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrnn import get_cell
from jaxrnn.grad.gradcheck import make_problem
from jaxrnn.grad.manual_bptt import manual_bptt
from jaxrnn.model import LOSSES, sequence_loss
from reference import masked_sequence_loss, rnn_step, to_np
from reference_bptt import reference_bptt

LENGTHS = np.array([6, 3, 1])


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_sequence_loss_with_lengths_is_the_loss_of_the_valid_steps(loss):
    # Fails when padded steps are scored (readout of h = 0 is b_y) or a mean divides by T*B.
    p = make_problem("rnn", "tanh", loss, steps=6, batch=3, outputs=5)
    got = sequence_loss(p.cell, p.params, p.xs, p.targets, loss, lengths=jnp.asarray(LENGTHS))[0]
    xs = np.eye(3)[np.asarray(p.xs)] if loss.startswith("xent") else np.asarray(p.xs)
    want = masked_sequence_loss(rnn_step, to_np(p.params["cell"]), to_np(p.params["readout"]),
                                xs, np.asarray(p.targets), loss, LENGTHS)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_issue_reproduction_rnn_tanh_lengths_6_3():
    p = make_problem("rnn", "tanh", "xent_sum", steps=6, batch=2, inputs=3, hidden=8, outputs=5)
    lengths = np.array([6, 3])
    got = sequence_loss(p.cell, p.params, p.xs, p.targets, "xent_sum",
                        lengths=jnp.asarray(lengths))[0]
    want = masked_sequence_loss(rnn_step, to_np(p.params["cell"]), to_np(p.params["readout"]),
                                np.eye(3)[np.asarray(p.xs)], np.asarray(p.targets), "xent_sum",
                                lengths)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    unmasked = sequence_loss(p.cell, p.params, p.xs, p.targets, "xent_sum")[0]
    assert abs(float(unmasked) - want) > 1e-3  # the padding matters in this case


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("loss", ["xent_sum", "xent_mean", "all_steps"])
def test_manual_bptt_with_lengths_is_the_sum_of_per_sequence_references(cell, loss):
    # Each sequence truncated to its length, by the numpy BPTT (no masks at all), summed:
    # the gradient a padding-blind loss must have.
    p = make_problem(cell, "tanh", loss, steps=6, batch=3)
    res = manual_bptt(p.cell, p.params, p.xs, p.targets, loss, lengths=jnp.asarray(LENGTHS))
    per_loss = "xent_sum" if loss.startswith("xent") else "all_steps"
    total_value, total = 0.0, None
    for b, L in enumerate(LENGTHS):
        tg = p.targets[:L, b] if loss.startswith("xent") else p.targets[b]
        value, g = reference_bptt(cell, "tanh", p.params, p.xs[:L, b], tg, per_loss)
        w = float(L) if per_loss == "all_steps" else 1.0  # all_steps averages over L steps
        total_value += w * value
        g = {k: {n: w * v for n, v in d.items()} for k, d in g.items()}
        total = g if total is None else {k: {n: total[k][n] + v for n, v in d.items()}
                                         for k, d in g.items()}
    n = LENGTHS.sum() if loss in ("xent_mean", "all_steps") else 1
    np.testing.assert_allclose(res.loss, total_value / n, rtol=1e-12)
    for k in total:
        for name, v in total[k].items():
            np.testing.assert_allclose(res.grads[k][name], v / n, rtol=1e-9, atol=1e-13,
                                       err_msg=f"{k}/{name}")


def test_mask_of_the_wrong_shape_is_refused():
    p = make_problem("rnn", "tanh", "xent_sum", steps=6, batch=3)
    with pytest.raises(ValueError, match="mask must have shape"):
        sequence_loss(p.cell, p.params, p.xs, p.targets, "xent_sum",
                      mask=jnp.ones((6, 2), bool))
