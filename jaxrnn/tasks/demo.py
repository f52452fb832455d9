"""A short demo: a small RNN learns to predict the next value of a sine wave.

It exercises the whole core path (init, hoisted ``lax.scan`` unroll, readout, loss, Optax,
jitted step scanned over steps) in a few seconds and writes ``config.json``, ``metrics.csv``,
``summary.json``, ``loss.png`` and ``predictions.png`` to its run directory.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxrnn import cells, optim, train

from jaxrnn.plots import common as plotting

from jaxrnn.io import runs
from jaxrnn.unroll import unroll


@dataclasses.dataclass(frozen=True)
class Config:
    cell: str = "rnn"
    activation: str = "tanh"
    hidden: int = 32
    window: int = 20
    n_points: int = 600
    train_fraction: float = 0.8
    optimizer: str = "adam"
    learning_rate: float = 1e-2
    steps: int = 400
    seed: int = 0

    def validate(self):
        if self.window < 2 or self.n_points < self.window + 10:
            raise ValueError(f"need window >= 2 and n_points >= window + 10; got window="
                             f"{self.window}, n_points={self.n_points}")
        if not 0.0 < self.train_fraction < 1.0:
            raise ValueError(f"train_fraction must be in (0, 1); got {self.train_fraction}")
        cells.get_cell(self.cell, self.activation)


PRESETS = {"demo": Config()}


def make_windows(cfg: Config):
    """(train, test) pairs of windows xs (T, N, 1) and next values (N, 1), split in time order."""
    series = np.sin(np.linspace(0.0, 60.0, cfg.n_points))
    idx = np.arange(cfg.n_points - cfg.window)[:, None] + np.arange(cfg.window)[None, :]
    xs, ys = series[idx], series[idx[:, -1] + 1]
    n_train = int(cfg.train_fraction * len(xs))

    def as_batch(a, b):
        return jnp.asarray(a.T[..., None], jnp.float32), jnp.asarray(b[:, None], jnp.float32)

    return as_batch(xs[:n_train], ys[:n_train]), as_batch(xs[n_train:], ys[n_train:])


def init_model(key, cfg: Config):
    k_cell, k_out = jax.random.split(key)
    cell = cells.get_cell(cfg.cell, cfg.activation)
    return {"cell": cell.init(k_cell, 1, cfg.hidden), "readout": cells.init_readout(
        k_out, cfg.hidden, 1)}


def predict(cfg: Config, params, xs):
    """Last-step predictions (N, 1) for windows xs (T, N, 1)."""
    hs, _ = unroll(cells.get_cell(cfg.cell, cfg.activation), params["cell"], xs)
    return jax.vmap(cells.readout, (None, 0))(params["readout"], hs[-1])


def main(cfg: Config, out) -> Path:
    """Trains, evaluates, and writes the run directory; returns its path."""
    out = runs.make_run_dir(out, cfg)
    (x_tr, y_tr), (x_te, y_te) = make_windows(cfg)
    params = init_model(jax.random.PRNGKey(cfg.seed), cfg)
    optimizer = optim.make_optimizer(cfg.optimizer, cfg.learning_rate)

    def loss_fn(p, batch):
        xs, ys = batch
        return jnp.mean((predict(cfg, p, xs) - ys) ** 2), {}

    step = train.make_train_step(loss_fn, optimizer)
    fit = jax.jit(lambda p, s: train.scan_steps(
        step, p, s, (jnp.broadcast_to(x_tr, (cfg.steps,) + x_tr.shape),
                     jnp.broadcast_to(y_tr, (cfg.steps,) + y_tr.shape))))
    t0 = time.perf_counter()
    params, _, metrics = jax.block_until_ready(fit(params, optimizer.init(params)))
    wall = time.perf_counter() - t0
    loss = np.asarray(metrics["loss"])
    pred = np.asarray(predict(cfg, params, x_te))[:, 0]
    truth = np.asarray(y_te)[:, 0]
    rmse = float(np.sqrt(np.mean((pred - truth) ** 2)))
    last_value = float(np.sqrt(np.mean((np.asarray(x_te)[-1, :, 0] - truth) ** 2)))
    runs.write_csv(out / "metrics.csv", [
        {"step": i + 1, "train_loss": float(v), "grad_norm": float(g)}
        for i, (v, g) in enumerate(zip(loss, np.asarray(metrics["grad_norm"])))])
    runs.write_json(out / "summary.json", {
        "final_train_mse": float(loss[-1]), "test_rmse": rmse,
        "baseline_last_value_rmse": last_value, "wall_time_s": wall})
    plotting.save(plotting.line_plot(np.arange(1, cfg.steps + 1), {"train MSE": loss},
                                     title="demo: training loss", xlabel="step",
                                     ylabel="MSE", logy=True), out / "loss.png")
    plotting.save(plotting.line_plot(np.arange(len(truth)), {"truth": truth, "RNN": pred},
                                     title=f"demo: next-value predictions (test RMSE {rmse:.4f})",
                                     xlabel="test window", ylabel="value"),
                  out / "predictions.png")
    print(f"demo: test RMSE {rmse:.4f} (predict-last-value {last_value:.4f}); "
          f"{cfg.steps} steps in {wall:.1f} s; wrote {out}")
    return out
