"""The adding problem (``jaxrnn.data.memory``) as a sweep task: which cells can carry a value
across T/2 steps, and how fast each cell's gradient vanishes going back in time.

A one-layer cell (``rnn`` with tanh/sigmoid/relu, ``lstm``, ``gru``) reads the two channels and a
linear readout predicts the sum from the last step; the loss is ``mean_b (ŷ_T - y)²`` (``last``).
Every step draws a fresh batch from ``fold_in(k_train, step)``; the held-out set is one fixed
batch of ``n_val`` sequences, the same for every run. Traced fields: ``learning_rate``,
``clip_value``, ``bptt_window`` (windows anchored at the last step; 0 = full BPTT);
init-only: the initialisers and ``forget_bias``.

Outputs every ``log_every`` steps: ``train_mse`` (mean over the interval's batches) and
``val_mse``; finals ``val_mse``, ``val_ratio`` (val_mse / (1/6), the predict-the-mean baseline:
< 1 means the task is solved in part), the gradient bias of truncation, and
``grad_ratio_{init,final}`` = log10(||∂L/∂c_1|| / ||∂L/∂c_T||) (very negative: vanished), with the
whole profile ``||∂L/∂c_t||`` over t on the held-out batch.
"""
from __future__ import annotations

import functools
import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from jaxrnn import model, train
from jaxrnn.cells import ACTIVATIONS, CELLS, get_cell
from jaxrnn.data.memory import ADDING_BASELINE_MSE, adding_batch
from jaxrnn.grad.diagnostics import carry_grad_norms, gradient_bias
from jaxrnn.initializers import get_initializer
from jaxrnn.io import config, settings
from jaxrnn.model import readouts
from jaxrnn.optim import CLIPS, OPTIMIZERS
from jaxrnn.sweep.contract import Chunks, Program, SweepTask, chunked_train
from jaxrnn.sweep.traced import traced_optimizer, unroll_traced

VAL_KEY = 20_150_101  # the held-out batch's key, fixed for every run and seed


@dataclasses.dataclass(frozen=True)
class Config(config.Config):
    """One adding-problem run; defaults train in about a minute on a CPU."""

    RANGES = {"T": ">=2", "hidden": ">=1", "batch": ">=1", "steps": ">=1", "log_every": ">=1",
              "n_val": ">=1", "bptt_window": ">=0", "learning_rate": ">0", "clip_value": ">0"}
    CHOICES = {"cell": CELLS, "activation": tuple(ACTIVATIONS), "optimizer": OPTIMIZERS,
               "clip": CLIPS}

    T: int = 40  # steps per sequence
    cell: str = "rnn"
    activation: str = "tanh"
    hidden: int = 32
    batch: int = 32
    steps: int = 1500
    log_every: int = 100
    optimizer: str = "adam"
    learning_rate: float = 3e-3
    clip: str = "global_norm"
    clip_value: float = 1.0
    bptt_window: int = 0  # 0: full BPTT
    input_init: str = "glorot"
    recurrent_init: str = "orthogonal"
    readout_init: str = "glorot"
    forget_bias: float = 1.0  # LSTM only
    n_val: int = 256
    seed: int = 0
    dtype: Literal["float32", "float64"] = "float32"

    def check(self):
        """Cross-field rules: the activation fits the cell, the initialisers exist, and
        ``steps`` is a multiple of ``log_every``."""
        get_cell(self.cell, self.activation)
        for name in ("input_init", "recurrent_init", "readout_init"):
            get_initializer(getattr(self, name))
        if self.steps % self.log_every:
            raise ValueError(f"steps ({self.steps}) must be a multiple of log_every "
                             f"({self.log_every})")


PRESETS = {"adding": Config(), "adding-short": Config(T=20, steps=1000)}


def grad_ratio(profile):
    """``log10(||∂L/∂c_1|| / ||∂L/∂c_T||)``; a norm that underflowed to 0 counts as the smallest
    normal number of the dtype, so about -38 (float32) reads "vanished below the dtype's range"."""
    tiny = jnp.finfo(profile.dtype).tiny
    return jnp.log10(jnp.maximum(profile[0], tiny)) - jnp.log10(jnp.maximum(profile[-1], tiny))


def _init(cfg: Config, seeds: list) -> dict:
    """Params (S, ...) of the seeds, from each seed's ``k_init``."""
    kwargs = {"input_init": cfg.input_init, "recurrent_init": cfg.recurrent_init}
    if cfg.cell == "lstm":
        kwargs["forget_bias"] = cfg.forget_bias

    def one(seed):
        k_init = jax.random.split(jax.random.PRNGKey(seed))[0]
        return model.init_model(k_init, cfg.cell, 2, cfg.hidden, 1, activation=cfg.activation,
                                cell_kwargs=kwargs, readout_init=cfg.readout_init,
                                dtype=jnp.dtype(cfg.dtype))

    params = jax.jit(jax.vmap(one))(np.asarray(seeds, np.uint32))
    return jax.tree_util.tree_map(np.asarray, params)


def make_program(cfg: Config) -> Program:
    """The vmappable program of ``cfg``'s static fields (module docstring)."""
    settings.require_dtype(cfg.dtype)
    dtype = jnp.dtype(cfg.dtype)
    cell, loss = get_cell(cfg.cell, cfg.activation), model.get_loss("last")
    x_val, y_val = adding_batch(jax.random.PRNGKey(VAL_KEY), cfg.T, cfg.n_val, dtype)
    n_log = cfg.steps // cfg.log_every

    def loss_fn(window):
        def fn(params, batch):
            xs, y = batch
            hs, _ = unroll_traced(cell, params["cell"], xs, window, anchor="end")
            return loss(readouts(params["readout"], hs), y), {}
        return fn

    def diagnostics(params, window):
        g_k = jax.grad(lambda p: loss_fn(window)(p, (x_val, y_val))[0])(params)
        g = jax.grad(lambda p: loss_fn(0)(p, (x_val, y_val))[0])(params)
        prof = carry_grad_norms(cell, params, x_val, lambda preds: loss(preds, y_val))
        return gradient_bias(g_k["cell"], g["cell"]), prof

    opt_of = functools.partial(traced_optimizer, cfg)

    def val(p):
        return loss_fn(0)(p, (x_val, y_val))[0]

    def start(params, hp, key):
        bias0, prof0 = diagnostics(params, hp["bptt_window"])
        return {"params": params, "opt_state": opt_of(hp).init(params),
                "pre": {"bias": bias0, "profile": prof0, "val": val(params)}}

    def step(carry, hp, key, c):
        train_step = train.make_train_step(loss_fn(hp["bptt_window"]), opt_of(hp))
        k_train = jax.random.split(key)[1]

        def batch(s):
            return adding_batch(jax.random.fold_in(k_train, s), cfg.T, cfg.batch, dtype)

        batches = jax.vmap(batch)(c * cfg.log_every + jnp.arange(cfg.log_every))
        p, o, m = train.scan_steps(train_step, carry["params"], carry["opt_state"],
                                   batches)  # xs (log_every, T, B, 2)
        return {**carry, "params": p, "opt_state": o}, (jnp.mean(m["loss"]), val(p))

    def finish(carry, hp, key, curves):
        train_mse, val_mse = curves
        bias0, prof0 = carry["pre"]["bias"], carry["pre"]["profile"]
        bias1, prof1 = diagnostics(carry["params"], hp["bptt_window"])
        nan = jnp.asarray(jnp.nan, dtype)
        return {"curve:train_mse": jnp.concatenate([nan[None], train_mse]),
                "curve:val_mse": jnp.concatenate([carry["pre"]["val"][None], val_mse]),
                "final:val_mse": val_mse[-1], "final:train_mse": train_mse[-1],
                "final:val_ratio": val_mse[-1] / ADDING_BASELINE_MSE,
                "final:bias_cos_init": bias0["cos"], "final:bias_rel_init": bias0["rel"],
                "final:bias_cos_final": bias1["cos"], "final:bias_rel_final": bias1["rel"],
                "final:grad_ratio_init": grad_ratio(prof0),
                "final:grad_ratio_final": grad_ratio(prof1),
                "profile:grad_h_init": prof0, "profile:grad_h_final": prof1}

    def hparams(c: Config) -> dict:
        return {"learning_rate": np.asarray(c.learning_rate, dtype),
                "clip_value": np.asarray(c.clip_value, dtype),
                "bptt_window": np.asarray(c.bptt_window, np.int32)}

    axes = {"curve": np.arange(n_log + 1) * cfg.log_every, "curve_label": "step",
            "profile": np.arange(1, cfg.T + 1), "profile_label": "step t"}
    chunks = Chunks(n_log, start, step, finish)
    return Program(_init, hparams, chunked_train(chunks), axes, chunks)


def _check(configs: list, seeds: list) -> None:
    del configs, seeds


TASK = SweepTask(
    name="memory", config=Config, presets=PRESETS,
    traced=("learning_rate", "clip_value", "bptt_window"),
    init_only=("input_init", "recurrent_init", "readout_init", "forget_bias"),
    metrics=("val_mse", "val_ratio", "train_mse", "grad_ratio_init", "grad_ratio_final",
             "bias_cos_final", "bias_rel_final", "bias_cos_init", "bias_rel_init"),
    make_program=make_program, check=_check, loss_curve="val_mse")
