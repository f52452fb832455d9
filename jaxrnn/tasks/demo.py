"""A short demo: a small RNN learns to predict the next value of a sine wave.

It exercises the whole core path (``model.init_model``, the hoisted ``lax.scan`` unroll,
``model.readouts``, loss, Optax, the jitted step scanned over steps and driven by
``train.run_chunks``) in a few seconds and writes ``config.json``,
``metrics.csv``, ``summary.json``, ``loss.png`` and ``predictions.png`` to its run directory.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxrnn import cells, model, optim, train
from jaxrnn.io import config, runs
from jaxrnn.io.failures import DivergenceError
from jaxrnn.plots import common as plotting
from jaxrnn.unroll import unroll


@dataclasses.dataclass(frozen=True)
class Config(config.Config):
    """The demo (preset "demo"): a few hundred full-batch steps, seconds on a CPU."""

    RANGES = {"hidden": ">=1", "seq_len": ">=2", "train_fraction": "(0,1)",
              "learning_rate": ">0", "steps": ">=1"}
    CHOICES = {"optimizer": optim.OPTIMIZERS}
    RENAMED = {"window": "seq_len"}

    cell: str = "rnn"
    activation: str = "tanh"
    hidden: int = 32
    seq_len: int = 20  # T: steps per window; each window predicts the next value
    n_points: int = 600
    train_fraction: float = 0.8
    optimizer: str = "adam"
    learning_rate: float = 1e-2
    steps: int = 400
    divergence_factor: float = train.DIVERGENCE_FACTOR  # a loss above this x the first: stop
    seed: int = 0

    def check(self):
        """Cross-field rules (the base checks types, choices and ranges first)."""
        if self.n_points < self.seq_len + 10:
            raise ValueError(f"n_points must be >= seq_len + 10 = {self.seq_len + 10}; got "
                             f"{self.n_points}")
        cells.get_cell(self.cell, self.activation)


PRESETS = {"demo": Config()}


def make_windows(cfg: Config):
    """(train, test) pairs of windows xs (T, N, 1) and next values (N, 1), split in time order."""
    series = np.sin(np.linspace(0.0, 60.0, cfg.n_points))
    idx = np.arange(cfg.n_points - cfg.seq_len)[:, None] + np.arange(cfg.seq_len)[None, :]
    xs, ys = series[idx], series[idx[:, -1] + 1]
    n_train = int(cfg.train_fraction * len(xs))

    def as_batch(a, b):
        return jnp.asarray(a.T[..., None], jnp.float32), jnp.asarray(b[:, None], jnp.float32)

    return as_batch(xs[:n_train], ys[:n_train]), as_batch(xs[n_train:], ys[n_train:])


def predict(cell, params, xs):
    """Last-step predictions (N, 1) for windows xs (T, N, 1): the readout of the last state."""
    hs, _ = unroll(cell, params["cell"], xs)  # (T, N, H)
    return model.readouts(params["readout"], hs[-1])


def fit(cfg: Config, cell, params, batch):
    """``cfg.steps`` full-batch steps on ``batch`` (xs (T, N, 1), ys (N, 1)) as one jitted
    chunk of ``train.run_chunks``. Returns ``(params, {"loss", "grad_norm"} (steps,) numpy)``."""
    optimizer = optim.make_optimizer(cfg.optimizer, cfg.learning_rate)

    def loss_fn(p, b):
        xs, ys = b
        return jnp.mean((predict(cell, p, xs) - ys) ** 2), {}

    step = train.make_train_step(loss_fn, optimizer)

    @functools.partial(jax.jit, static_argnums=(1, 2))
    def run_chunk(state, a, b):
        batches = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (b - a,) + x.shape),
                                         batch)
        params, opt_state, metrics = train.scan_steps(step, *state, batches)
        return (params, opt_state), metrics

    chunks = []

    def on_chunk(state, metrics, a, b, seconds):
        chunks.append(metrics)
        bad = np.flatnonzero(train.diverged(metrics["loss"], chunks[0]["loss"][0],
                                            cfg.divergence_factor))
        if bad.size:
            raise DivergenceError(
                f"training diverged at step {a + bad[0] + 1}: loss {metrics['loss'][bad[0]]:.4g}"
                f" (first loss {chunks[0]['loss'][0]:.4g}, limit {cfg.divergence_factor:g}x or "
                f"non-finite); lower --learning_rate (e.g. --learning_rate="
                f"{cfg.learning_rate / 10:g}) and run again with another --out")

    done = train.run_chunks(run_chunk, (params, optimizer.init(params)), start=0,
                            stop=cfg.steps, every=cfg.steps, on_chunk=on_chunk)
    if done.reason == "interrupted":
        raise KeyboardInterrupt
    return done.state[0], {k: np.concatenate([np.asarray(m[k]) for m in chunks])
                           for k in ("loss", "grad_norm")}


def add_arguments(parser) -> None:
    """Extra CLI flags (passed to ``main``)."""
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a finished run already in --out")


def main(cfg: Config, out, *, origin: dict | None = None, overwrite: bool = False) -> Path:
    """Trains, evaluates, and writes the run directory; returns its path. ``origin``: where the
    run came from (``jaxrnn.io.provenance.record``), written to ``config.json``."""
    out = runs.make_run_dir(out, cfg, exist_ok=overwrite, origin=origin)
    (x_tr, y_tr), (x_te, y_te) = make_windows(cfg)
    cell = cells.get_cell(cfg.cell, cfg.activation)
    params = model.init_model(jax.random.PRNGKey(cfg.seed), cfg.cell, 1, cfg.hidden, 1,
                              activation=cfg.activation)
    t0 = time.perf_counter()
    try:
        params, metrics = fit(cfg, cell, params, (x_tr, y_tr))
    except DivergenceError as e:
        runs.write_json(out / "summary.json", {"status": "diverged", "error": str(e)})
        raise
    wall = time.perf_counter() - t0
    pred = np.asarray(predict(cell, params, x_te))[:, 0]
    truth = np.asarray(y_te)[:, 0]
    rmse = float(np.sqrt(np.mean((pred - truth) ** 2)))
    last_value = float(np.sqrt(np.mean((np.asarray(x_te)[-1, :, 0] - truth) ** 2)))
    loss = metrics["loss"]
    runs.write_csv(out / "metrics.csv", [
        {"step": i + 1, "train_loss": float(v), "grad_norm": float(g)}
        for i, (v, g) in enumerate(zip(loss, metrics["grad_norm"]))])
    runs.write_json(out / "summary.json", {
        "status": "completed", "final_train_mse": float(loss[-1]), "test_rmse": rmse,
        "baseline_last_value_rmse": last_value, "wall_time_s": wall})
    _draw(cfg, out, loss, pred, truth, rmse)
    print(f"demo: test RMSE {rmse:.4f} (predict-last-value {last_value:.4f}); "
          f"{cfg.steps} steps in {wall:.1f} s; wrote {out}")
    return out


def _draw(cfg: Config, out, loss, pred, truth, rmse) -> None:
    plotting.save(plotting.line_plot(np.arange(1, cfg.steps + 1), {"train MSE": loss},
                                     title="demo: training loss", xlabel="step",
                                     ylabel="MSE", logy=True), out / "loss.png")
    plotting.save(plotting.line_plot(np.arange(len(truth)), {"truth": truth, "RNN": pred},
                                     title=f"demo: next-value predictions (test RMSE {rmse:.4f})",
                                     xlabel="test window", ylabel="value"),
                  out / "predictions.png")
