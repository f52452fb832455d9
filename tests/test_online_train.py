"""jaxrnn.online.train and the ``online`` task: online updates, checked against BPTT."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from jaxrnn.cells import get_cell
from jaxrnn.grad.gradcheck import make_problem
from jaxrnn.io.config import override
from jaxrnn.online.train import init_state, make_episode
from jaxrnn.tasks import online


def _episode_data(T=6, B=2, seed=0):
    rng = np.random.default_rng(seed)
    xs = jnp.asarray(rng.normal(size=(T, B, 3)))
    ys = jnp.asarray(rng.normal(size=(T, B, 2)))
    w = jnp.asarray(rng.uniform(0.5, 1.5, size=(T,)))
    return xs, ys, w


@pytest.mark.parametrize("cell", ["rnn"])
def test_rtrl_updating_once_per_episode_equals_bptt(cell):
    """With every = T, online RTRL's one update uses the exact episode gradient: the same
    params as full BPTT (tbptt with every = T) to 1e-10; UORO's differ (it is an estimate)."""
    p = make_problem(cell, hidden=3, steps=6, batch=2).params
    opt = optax.sgd(0.5)
    batch = _episode_data()
    out = {}
    for method in ("tbptt", "rtrl_jac", "uoro"):
        episode = jax.jit(make_episode(get_cell(cell), method, opt, 6, "squared"))
        state, m = episode(init_state(p, opt, jax.random.PRNGKey(0)), batch)
        out[method] = (np.asarray(ravel_pytree(state.params)[0]), float(m["loss"]))
    moved = np.max(np.abs(out["tbptt"][0] - np.asarray(ravel_pytree(p)[0])))
    assert moved > 1e-3
    assert np.max(np.abs(out["rtrl_jac"][0] - out["tbptt"][0])) <= 1e-10 * moved
    assert out["rtrl_jac"][1] == pytest.approx(out["tbptt"][1], rel=1e-12)
    assert np.max(np.abs(out["uoro"][0] - out["tbptt"][0])) > 1e-6 * moved


def test_online_task_lowers_the_sine_loss_and_refuses_bad_configs():
    cfg = override(online.PRESETS["sine-uoro"], {"episodes": 60, "log_every": 60, "T": 10,
                                                 "method": "eprop", "learning_rate": 1e-2})
    _, losses = online.fit(cfg)
    assert losses.shape == (60,)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    with pytest.raises(ValueError, match="multiple of every"):
        override(cfg, {"every": 3})
    with pytest.raises(ValueError, match="online estimator name"):
        override(cfg, {"method": "rtlr"})
    with pytest.raises(ValueError, match="vanilla RNN only"):
        override(cfg, {"method": "kfrtrl", "cell": "lstm"})
