"""The memory (adding problem) and char sweep tasks: every run of a vmapped sweep equals the same
config trained alone, as a plain Python loop of the one train step (no vmap, no scan over
steps, no traced window or hyperparameters), with every reported loss computed in numpy."""
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrnn import cells, optim, train
from jaxrnn.cli import main as cli
from jaxrnn.data.memory import ADDING_BASELINE_MSE, adding_batch
from jaxrnn.data.text import eval_windows, random_windows
from jaxrnn.io import runs as runs_io
from jaxrnn.model import sequence_loss
from jaxrnn.sweep import runner as sweep
from jaxrnn.sweep.contract import get_task
from jaxrnn.sweep.spec import expand, spec_from_dict
from jaxrnn.tasks import memory
from jaxrnn.tasks.char import sweep as char_sweep

TOL = {"rtol": 1e-10, "atol": 1e-13}
ACT = {"tanh": np.tanh, "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z))}


def _np(params):
    return {k: np.asarray(v, np.float64) for d in params.values() for k, v in d.items()}


def _np_hidden(p, xs, act):
    """numpy float64 RNN hidden states (T, B, H); int xs (T, B) are one-hot ids."""
    h, hs = np.zeros((xs.shape[1], p["W_hh"].shape[0])), []
    for x in xs:
        u = p["W_xh"][:, x].T if x.dtype.kind == "i" else x @ p["W_xh"].T
        h = ACT[act](u + h @ p["W_hh"].T + p["b_h"])
        hs.append(h)
    return np.stack(hs)


def _np_mse_last(params, xs, y, act):
    p = _np(params)
    pred = _np_hidden(p, np.asarray(xs), act)[-1] @ p["W_hy"].T + p["b_y"]
    return float(np.mean((pred - np.asarray(y)) ** 2))


def _np_xent(params, xs, ys, act):
    """Mean cross-entropy (nats) over the T B characters."""
    p = _np(params)
    z = _np_hidden(p, np.asarray(xs), act) @ p["W_hy"].T + p["b_y"]  # (T, B, V)
    logp = z - z.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    return float(-np.mean(np.take_along_axis(logp, np.asarray(ys)[..., None], -1)))


def _direct_runs(task, cfgs, loss_name, draw, np_loss, val_loss):
    """Each config of one program trained alone: ``draw(k_train, step)`` gives the step's batch,
    ``np_loss(params, *batch)`` its numpy loss, ``val_loss(params)`` the held-out metric.
    Returns [(train curve, val curve)] with the sweep's layout (train curve starts at NaN)."""
    cfg = cfgs[0]
    inits = get_task(task).make_program(cfg).init(cfg, [c.seed for c in cfgs])
    cell = cells.get_cell(cfg.cell, cfg.activation)

    def make_opt(lr):
        return optim.make_optimizer(cfg.optimizer, lr, clip=cfg.clip, clip_value=cfg.clip_value)

    @functools.partial(jax.jit, static_argnums=4)
    def step(params, state, batch, lr, window):
        def loss_fn(p, b):
            return sequence_loss(cell, p, *b, loss_name, window=window, anchor=anchor)[0], {}
        return train.make_train_step(loss_fn, make_opt(lr))(params, state, batch)

    anchor = "end" if task == "memory" else "start"
    out = []
    for i, c in enumerate(cfgs):
        params = jax.tree_util.tree_map(lambda a: jnp.asarray(a[i]), inits)
        k_train = jax.random.split(jax.random.PRNGKey(c.seed))[1]
        state, losses = make_opt(c.learning_rate).init(params), []
        curves = ([np.nan], [val_loss(params)])
        for s in range(c.steps):
            batch = draw(k_train, s)
            losses.append(np_loss(params, *batch))
            params, state, _ = step(params, state, batch, c.learning_rate,
                                    c.bptt_window or None)
            if (s + 1) % c.log_every == 0:
                curves[0].append(np.mean(losses))
                curves[1].append(val_loss(params))
                losses = []
        out.append(tuple(np.array(v) for v in curves))
    return out


def test_cli_memory_sweep_equals_direct_runs(tmp_path, capsys):
    """``jaxrnn sweep --task memory`` with --set/--grid/--seeds: each run's curves and its
    results.csv row equal the run trained alone; a mix-up of runs, learning rates or seeds in
    the vmapped program, or of rows in results.csv, breaks it."""
    out = tmp_path / "mem"
    argv = ["sweep", "--task", "memory", "--name", "mem", "--set", "T=4", "--set", "steps=4",
            "--set", "log_every=2", "--set", "hidden=3", "--set", "n_val=8", "--set", "batch=4",
            "--set", "dtype=float64", "--grid", "learning_rate=0.01,0.2", "--seeds", "0-1",
            "--out", str(out), "--no-report"]
    assert cli.main(argv) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    rows = runs_io.read_csv(out / "results.csv")
    [pid] = {r["program"] for r in rows}
    outputs, _ = sweep.load_program(out, pid)
    cfgs = [memory.Config(**runs_io.read_json(out / "configs.json")[r]["config"])
            for r in outputs["run_index"]]
    assert [(c.learning_rate, c.seed) for c in cfgs] == [(0.01, 0), (0.01, 1), (0.2, 0),
                                                         (0.2, 1)]
    x_val, y_val = adding_batch(jax.random.PRNGKey(memory.VAL_KEY), 4, 8, jnp.float64)
    act = cfgs[0].activation
    draw = jax.jit(lambda k, s: adding_batch(jax.random.fold_in(k, s), 4, 4, jnp.float64))
    direct = _direct_runs("memory", cfgs, "last", draw,
                          lambda p, xs, y: _np_mse_last(p, xs, y, act),
                          lambda p: _np_mse_last(p, x_val, y_val, act))
    for i, (run, (train_mse, val_mse)) in enumerate(zip(outputs["run_index"], direct)):
        row = rows[int(run)]
        np.testing.assert_allclose(outputs["curve:train_mse"][i], train_mse, **TOL)
        np.testing.assert_allclose(outputs["curve:val_mse"][i], val_mse, **TOL)
        np.testing.assert_allclose([row["train_mse"], row["val_mse"], row["val_ratio"]],
                                   [train_mse[-1], val_mse[-1],
                                    val_mse[-1] / ADDING_BASELINE_MSE], **TOL)
    assert len({round(r["val_mse"], 12) for r in rows}) == 4  # every run differs


def test_char_sweep_equals_direct_runs_and_truncates(tmp_path):
    """The char task with bptt_window 2 and 0 (one program, the window traced): each run equals
    the run trained alone with the static ``sequence_loss(window=k)``; held-out bits per
    character from numpy; the truncated run's gradient differs from the full one's."""
    text = tmp_path / "t.txt"
    text.write_text("to be or not to be, that is the question. " * 40)
    spec = spec_from_dict({"task": "char", "base": {"text": str(text), "max_chars": 0,
                                                    "seq_len": 6, "hidden": 4, "batch": 3,
                                                    "steps": 4, "log_every": 2,
                                                    "val_fraction": 0.2, "dtype": "float64"},
                           "grid": {"bptt_window": [2, 0]}, "seeds": [0]})
    sweep.run_sweep(spec, tmp_path / "char", log=None, report=False)
    rows = runs_io.read_csv(tmp_path / "char" / "results.csv")
    assert [r["bptt_window"] for r in rows] == [2, 0]
    assert rows[1]["bias_cos_final"] == pytest.approx(1.0) and rows[0]["bias_rel_final"] > 0
    cfgs = [r.config for r in expand(spec)]
    train_ids, val_ids, _ = char_sweep.load_ids(cfgs[0])
    ids = jnp.asarray(train_ids)
    x_val, y_val = eval_windows(val_ids, 3, 6)
    bits = 1.0 / math.log(2.0)
    draw = jax.jit(lambda k, s: random_windows(jax.random.fold_in(k, s), ids, 3, 6))
    direct = _direct_runs(
        "char", cfgs, "xent_mean", draw, lambda p, xs, ys: bits * _np_xent(p, xs, ys, "tanh"),
        lambda p: bits * np.mean([_np_xent(p, x, y, "tanh") for x, y in zip(x_val, y_val)]))
    outputs, _ = sweep.load_program(tmp_path / "char", rows[0]["program"])
    assert outputs["run_index"].tolist() == [0, 1]
    for i, (train_bpc, val_bpc) in enumerate(direct):
        np.testing.assert_allclose(outputs["curve:train_bpc"][i], train_bpc, **TOL)
        np.testing.assert_allclose(outputs["curve:val_bpc"][i], val_bpc, **TOL)
        np.testing.assert_allclose([rows[i]["train_bpc"], rows[i]["val_bpc"]],
                                   [train_bpc[-1], val_bpc[-1]], **TOL)
    assert not np.allclose(direct[0][1], direct[1][1], rtol=1e-6)  # truncation changed training
