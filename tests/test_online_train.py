"""jaxrnn.online.train and the ``online`` task: online updates, checked against BPTT."""
import importlib

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


def test_char_task_first_loss_is_the_cross_entropy_of_a_numpy_forward_pass():
    """The char task's episode: windows of the stdlib text (ys = xs shifted by one), one-hot
    inputs (W_xh's column), and the loss of the first episode before any update is the mean
    next-character cross-entropy of the init params (numpy float64 forward pass; the task runs
    in float32, hence rtol 1e-5)."""
    task = importlib.import_module("jaxrnn.tasks.online.main")  # the package re-exports main()
    cfg = override(online.PRESETS["sine-uoro"], {"task": "char", "T": 7, "batch": 3, "hidden": 5,
                                                 "method": "tbptt", "every": 7, "episodes": 1,
                                                 "log_every": 1})
    ids, V = task.char_ids()
    assert task.dims(cfg) == (V, V) and V == len(np.unique(ids)) and ids.max() == V - 1
    xs, ys, w = task.episode_batch(cfg, jax.random.fold_in(task._keys(cfg)[2], 0))
    xs, ys = np.asarray(xs), np.asarray(ys)
    assert xs.shape == ys.shape == (7, 3) and np.array_equal(xs[1:], ys[:-1])
    p = task.init_params(cfg)
    c = {k: np.asarray(v, np.float64) for k, v in p["cell"].items()}
    r = {k: np.asarray(v, np.float64) for k, v in p["readout"].items()}
    h, nll = np.zeros((3, 5)), []
    for t in range(7):
        h = np.tanh(c["W_xh"][:, xs[t]].T + h @ c["W_hh"].T + c["b_h"])
        logits = h @ r["W_hy"].T + r["b_y"]
        m = logits.max(1)
        lse = m + np.log(np.exp(logits - m[:, None]).sum(1))
        nll.append(np.mean(lse - logits[np.arange(3), ys[t]]))
    _, losses = online.fit(cfg)
    assert losses[0] == pytest.approx(np.mean(nll), rel=1e-5)


def test_study_refuses_an_unknown_curve_task(tmp_path):
    from jaxrnn.tasks.online import study

    with pytest.raises(ValueError, match="unknown task.*chr.*sine, adding, char"):
        study.curves(tmp_path, False, ("sine", "chr"))


def test_reproduce_section_links_its_figures_from_the_report_directory(tmp_path, monkeypatch):
    """The report sits one folder above the section's directory: a figure written as
    ``curves_sine.png`` inside ``online/`` must be linked as ``online/curves_sine.png``."""
    study = importlib.import_module("jaxrnn.tasks.online.study")

    def fake_run_study(out, quick):
        (out / "curves_sine.png").write_bytes(b"png")
        return "![sine](curves_sine.png)"

    (tmp_path / "online").mkdir()
    monkeypatch.setattr(study, "run_study", fake_run_study)
    text = study.section(tmp_path / "online", quick=True)
    link = text.split("](", 1)[1].split(")", 1)[0]
    assert (tmp_path / link).is_file(), link
