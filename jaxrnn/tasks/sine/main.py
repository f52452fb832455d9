"""Sine-wave experiments: the "vidhya" and "vlasov" protocols, harder variants, forecasts.

``jaxrnn sine --preset vlasov --epochs 500 --out runs/x`` trains one preset (``Config`` and
``PRESETS`` in ``jaxrnn.tasks.sine.config``; any field overrides as ``--field=value``) and writes
to its run directory: ``config.json``, ``metrics.csv`` (per epoch: train/held-out objective and
RMSE, gradient norm), ``summary.json`` (RMSE of the model and of every baseline on the same
held-out windows, closed-loop forecast RMSE, wall and compile time), ``params.npz``, the CSVs
behind the figures, and ``loss.png``, ``predictions.png``, ``forecast.png``, ``grad_steps.png``
(redrawn from the CSVs by ``jaxrnn.plots.sine.draw_all``).

Per-sample SGD (``batch_size=1``) runs as a ``lax.scan`` over samples inside a ``lax.scan``
over the epochs of a jitted chunk of ``log_every`` epochs, driven by ``jaxrnn.train.run_chunks``:
no Python loop per sample, and metrics are fetched only between chunks.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrnn import optim, train
from jaxrnn.data import real, sine as sine_data
from jaxrnn.io import provenance, runs, settings
from jaxrnn.io.failures import DivergenceError
from jaxrnn.io.progress import Progress, compiling
from jaxrnn.plots.sine import draw_all
from jaxrnn.tasks.sine import score as sine_eval
from jaxrnn.tasks.sine.config import PRESETS, SERIES, Config  # noqa: F401 (the task protocol)
from jaxrnn.tasks.sine.fit import init_params, make_evaluate, make_run_chunk

NOISE_SEED = 0  # numpy seed of the series noise: every run of a config sees the same data


class SineData(NamedTuple):
    """A run's data. ``series`` may run past ``n_obs`` (a synthetic future for forecasts)."""

    series: np.ndarray  # (n, C) values (real series: normalised on the training part)
    n_obs: int  # windows are cut from series[:n_obs]
    split: sine_data.Split  # raw windows, train then held out
    xe_train: jax.Array  # (N_train, T, D) encoded inputs, in the run's dtype
    xe_test: jax.Array  # (N_test, T, D)
    encode: Callable  # raw windows (N, T, C) -> encoded (N, T, D)
    season: int | None  # steps per cycle (real series), for the seasonal-naive baseline
    norm: dict | None  # {"mean", "std"} of a real series' training part


def _identity(X):
    return X


def build_data(cfg: Config) -> SineData:
    """Series, windows, split and encoding for ``cfg`` (``jaxrnn.data.sine`` and ``.real``)."""
    season, norm = None, None
    if cfg.series in real.REAL:
        values = real.load(cfg.series)
        if cfg.n_points:
            values = values[:cfg.n_points]
        n_obs = len(values)
        if n_obs < cfg.seq_len + 4:
            raise ValueError(f"{cfg.series!r} has {n_obs} values, too few for seq_len "
                             f"{cfg.seq_len}")
        n_train = sine_data.n_train_windows(n_obs - cfg.seq_len, cfg.train_fraction)
        values, mean, std = sine_data.normalise(values, n_train + cfg.seq_len)
        season, norm = real.season(cfg.series), {"mean": mean, "std": std}
    else:
        values, _ = sine_data.make_series(cfg.series, cfg.n_points, cfg.x_stop, noise=cfg.noise,
                                          seed=NOISE_SEED, n_extra=cfg.forecast_steps)
        n_obs = cfg.n_points
    X, Y = sine_data.make_windows(values[:n_obs], cfg.seq_len)
    split = sine_data.split(X, Y, cfg.train_fraction)
    encode = sine_data.encode_positions if cfg.encoding == "position" else _identity
    dtype = jnp.dtype(cfg.dtype)
    return SineData(values, n_obs, split, jnp.asarray(encode(split.x_train), dtype),
                    jnp.asarray(encode(split.x_test), dtype), encode, season, norm)


def make_optimizer(cfg: Config, n_train: int | None = None):
    """The Optax chain of the config (``jaxrnn.optim.make_optimizer``); a cosine schedule
    decays the learning rate to 0 over all ``epochs * steps_per_epoch(n_train)`` updates."""
    clip = {} if cfg.clip == "none" else {"clip_value": cfg.clip_value}
    lr = cfg.learning_rate
    if cfg.lr_schedule == "cosine":
        if n_train is None:
            raise ValueError("lr_schedule='cosine' needs n_train to count the updates")
        lr = optax.cosine_decay_schedule(lr, cfg.epochs * _steps_per_epoch(cfg, n_train))
    return optim.make_optimizer(cfg.optimizer, lr, clip=cfg.clip, **clip)


def fit(cfg: Config, data: SineData, params, key, *, progress: bool = True):
    """Trains for ``cfg.epochs`` in jitted chunks of ``log_every`` epochs (``train.run_chunks``).

    Returns: ``(params, history rows, {"compile_s", "train_s"})``; history row 0 is the init.
    ``compile_s`` covers the chunk compiles (one per chunk size, ahead of time) and the
    evaluation at init (its own compile). Ctrl-C is raised again (no partial run is scored).
    """
    n_train = check_batch_size(cfg, data)
    optimizer = make_optimizer(cfg, n_train)
    opt_state = optimizer.init(params)
    chunk = make_run_chunk(cfg, data, optimizer)
    sizes = {b - a for a, b in train.chunk_bounds(0, cfg.epochs, cfg.log_every)}
    keys = jax.random.split(key, cfg.epochs)
    with compiling("the training epochs and the evaluation", enabled=progress) as timing:
        compiled = {n: chunk.lower(params, opt_state, keys[:n], 1).compile() for n in sizes}
        history = [_init_row(cfg, data, params)]  # compiles (and runs) the evaluation at init
    compile_s = timing["seconds"]

    def run_chunk(state, a, b):
        params, opt_state, metrics = compiled[b - a](*state, keys[a:b], a + 1)
        return (params, opt_state), metrics

    steps_per_epoch = _steps_per_epoch(cfg, n_train)
    t0 = time.perf_counter()
    with Progress(cfg.epochs, unit="epoch", rate_unit="updates") as bar:
        bar.enabled = bar.enabled and progress

        def on_chunk(state, metrics, a, b, seconds):
            history.extend({"epoch": a + e + 1, **_row(metrics, e)} for e in range(b - a))
            check_divergence(cfg, history, a)
            bar.update(b, b * steps_per_epoch, step_loss=history[-1]["step_loss"])

        done = train.run_chunks(run_chunk, (params, opt_state), start=0, stop=cfg.epochs,
                                every=cfg.log_every, on_chunk=on_chunk)
    if done.reason == "interrupted":
        raise KeyboardInterrupt
    return done.state[0], history, {"compile_s": compile_s,
                                    "train_s": time.perf_counter() - t0}


def check_divergence(cfg, history: list, a: int) -> None:
    """Raises ``DivergenceError`` when an epoch after ``a`` has a bad ``step_loss``
    (``train.diverged``: non-finite, or above ``divergence_factor`` times the loss at init)."""
    first = history[0]["train_loss"]
    for row in history[a + 1:]:
        if bool(train.diverged(row["step_loss"], first, cfg.divergence_factor)):
            raise DivergenceError(
                f"training diverged in epoch {row['epoch']}: loss {row['step_loss']:.4g} (loss at "
                f"init {first:.4g}, limit {cfg.divergence_factor:g}x or non-finite); lower "
                f"--learning_rate (e.g. --learning_rate={cfg.learning_rate / 10:g}) or clip "
                f"harder, and run again with another --out")


def check_batch_size(cfg, data) -> int:
    """The number of training windows; raises ValueError if a batch would not fit in it."""
    n_train = len(data.split.x_train)
    if cfg.batch_size > n_train:
        raise ValueError(f"batch_size {cfg.batch_size} exceeds the {n_train} training windows; "
                         f"use --batch_size=0 for full batch")
    return n_train


def _steps_per_epoch(cfg, n):
    return n if cfg.batch_size == 1 else (1 if cfg.batch_size == 0 else n // cfg.batch_size)


def _row(metrics, e):
    keys = ("train_loss", "val_loss", "train_rmse", "val_rmse", "step_loss", "grad_norm")
    return {k: float(metrics[k][e]) for k in keys}


def _init_row(cfg, data, params):
    m = jax.device_get(jax.jit(make_evaluate(cfg, data))(params))
    return {"epoch": 0, **{k: float(m[k]) for k in ("train_loss", "val_loss", "train_rmse",
                                                    "val_rmse")},
            "step_loss": float("nan"), "grad_norm": float("nan")}


def preset_name(cfg: Config) -> str | None:
    """The name of the preset ``cfg`` equals exactly, if any."""
    return next((name for name, p in PRESETS.items() if p == cfg), None)


def summarise(cfg, data, scored, history, timing, wall_s, origin=None) -> dict:
    """The run's summary.json content; its label names the preset and the overrides
    (``provenance.label``), else the exact preset ``cfg`` equals, else series and cell."""
    preset = (origin or {}).get("preset") or preset_name(cfg)
    last = history[-1]
    hz = scored["horizon_rmse"]
    marks = sorted({h for h in (1, 10, 20, 50, 100, 200) if h <= scored["steps"]}
                   | {scored["steps"]})
    return {
        "status": "completed",
        "label": provenance.label(origin, preset or f"{cfg.series} series, {cfg.cell}"),
        "preset": preset, "series": cfg.series, "seq_len": cfg.seq_len,
        "n_train": len(data.split.x_train), "n_heldout": len(data.split.x_test),
        "final": {k: last[k] for k in ("train_loss", "val_loss", "train_rmse", "val_rmse")},
        "rmse": scored["rmse"],
        "forecast": {"starts": len(scored["starts"]), "steps": scored["steps"],
                     "rmse_at": {name: {str(h): float(v[h - 1]) for h in marks}
                                 for name, v in hz.items()}},
        "normalisation": None if data.norm is None else
        {k: np.asarray(v).tolist() for k, v in data.norm.items()},
        "compile_s": timing["compile_s"], "train_s": timing["train_s"], "wall_s": wall_s,
        "updates": cfg.epochs * _steps_per_epoch(cfg, len(data.split.x_train)),
        "device": jax.devices()[0].device_kind,
    }


def save_params(path, params) -> None:
    """params.npz with keys like ``cell/W_xh``."""
    flat = {f"{group}/{name}": np.asarray(v) for group, d in params.items()
            for name, v in d.items()}
    np.savez(path, **flat)


def add_arguments(parser) -> None:
    """Extra CLI flags (passed to ``main``)."""
    parser.add_argument("--quiet", action="store_true", help="no progress bar or result table")
    parser.add_argument("--no-figures", dest="figures", action="store_false",
                        help="write the CSVs but draw no PNGs")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a finished run already in --out")


def main(cfg: Config, out, *, quiet: bool = False, figures: bool = True,
         origin: dict | None = None, overwrite: bool = False) -> Path:
    """Trains ``cfg``, scores it next to the baselines, and writes the run directory.
    ``origin`` (``jaxrnn.io.provenance.record``) goes into ``config.json`` and names the run."""
    cfg.validate()
    settings.require_dtype(cfg.dtype)  # the jaxrnn command switched x64 on for float64
    t_start = time.perf_counter()
    data = build_data(cfg)
    check_batch_size(cfg, data)  # before the run directory exists
    out = runs.make_run_dir(out, cfg, exist_ok=overwrite, origin=origin)
    k_init, k_train = jax.random.split(jax.random.PRNGKey(cfg.seed))
    params0 = init_params(cfg, k_init, data.xe_train.shape[-1], data.split.y_train.shape[-1],
                          jnp.dtype(cfg.dtype))
    try:
        params, history, timing = fit(cfg, data, params0, k_train, progress=not quiet)
    except DivergenceError as e:
        runs.write_json(out / "summary.json", {"status": "diverged", "error": str(e)})
        raise
    scored = sine_eval.score(cfg, data, params, params0)
    sine_eval.write_csvs(out, cfg, data, scored, history)
    save_params(out / "params.npz", params)
    summary = summarise(cfg, data, scored, history, timing, time.perf_counter() - t_start,
                        origin)
    runs.write_json(out / "summary.json", summary)
    if figures:
        draw_all(out)
    if not quiet:
        print(format_result(summary, out))
    return out


def format_result(summary: dict, out) -> str:
    """A few lines: held-out RMSE of the model and every baseline, times, the run directory."""
    r = summary["rmse"]
    lines = [f"{summary['label']}: held-out one-step RMSE  model {r['model']:.4f}  |  " +
             "  ".join(f"{k} {v:.4f}" for k, v in r.items() if k != "model")]
    f = summary["forecast"]
    at = f["rmse_at"]["model"]
    lines.append(f"closed loop ({f['starts']} starts): model RMSE " +
                 ", ".join(f"h={h}: {v:.3g}" for h, v in at.items()))
    lines.append(f"{summary['updates']:,} updates: compile {summary['compile_s']:.2f} s, "
                 f"train {summary['train_s']:.2f} s, wall {summary['wall_s']:.1f} s; wrote {out}")
    return "\n".join(lines)

