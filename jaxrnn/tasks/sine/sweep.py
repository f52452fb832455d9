"""The sine task as a sweep program: ``jaxrnn sine``'s data, model, loss and epochs, vmappable.

Built from the sine task's own pieces (``build_data``, ``init_params``, ``make_epoch`` (its loss,
train step and batches), ``make_loss_fn``, ``make_evaluate``) with three fields traced so runs that
differ in them share one program: ``learning_rate``, ``clip_value`` and ``bptt_window`` (windows
anchored at the last step, as the task's loss; 0 = full BPTT). ``input_init``, ``recurrent_init``,
``readout_init`` and ``numpy_init_seed`` only change the initial params. A run with seed s uses the
keys of ``jaxrnn sine --seed s``: ``k_init, k_train = split(PRNGKey(s))``, one key per epoch from
``split(k_train, epochs)``.

Outputs: every ``gcd(epochs, log_every)`` epochs (and at init, epoch 0) ``train_loss``,
``val_loss``, ``train_rmse``, ``val_rmse`` (on the whole sets, after that epoch) and
``grad_norm`` (mean over the steps since the last point); finals of those at the last epoch;
the truncated-vs-full gradient bias (cell params, on the whole training set) at init and at
the end; ``||∂L/∂c_t||`` over t (training set, full BPTT) at init and at the end.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxrnn import model
from jaxrnn.cells import get_cell
from jaxrnn.grad.diagnostics import carry_grad_norms, gradient_bias
from jaxrnn.io import settings
from jaxrnn.sweep.contract import Chunks, Program, SweepTask, chunked_train
from jaxrnn.sweep.traced import traced_optimizer
from jaxrnn.tasks.sine.config import PRESETS, Config
from jaxrnn.tasks.sine.fit import (init_params, make_epoch, make_evaluate, make_loss_fn,
                                   train_set)
from jaxrnn.tasks.sine.main import build_data

CURVES = ("train_loss", "val_loss", "train_rmse", "val_rmse", "grad_norm")


def _init(cfg: Config, seeds: list, D: int, O: int) -> dict:
    """Params (S, ...) for the seeds: ``init_params`` with each seed's ``k_init``, vmapped."""
    def one(seed):
        k_init = jax.random.split(jax.random.PRNGKey(seed))[0]
        return init_params(cfg, k_init, D, O, jnp.dtype(cfg.dtype))

    if cfg.numpy_init_seed >= 0:  # a numpy draw, the same for every seed
        return jax.tree_util.tree_map(lambda a: np.stack([np.asarray(a)] * len(seeds)),
                                      one(0))
    params = jax.jit(jax.vmap(one))(np.asarray(seeds, np.uint32))
    return jax.tree_util.tree_map(np.asarray, params)


def make_program(cfg: Config, diagnostics: bool = True) -> Program:
    """The vmappable program of ``cfg``'s static fields (module docstring).

    ``diagnostics=False`` leaves out the gradient bias and profiles (NaN), e.g. to time training.
    """
    settings.require_dtype(cfg.dtype)  # the sweep command switched x64 on for float64
    data = build_data(cfg)
    dtype = jnp.dtype(cfg.dtype)
    X, Y = train_set(data)
    D, O = X.shape[-1], Y.shape[-1]
    every_ = math.gcd(cfg.epochs, cfg.log_every)  # epochs between evaluations

    def hparams(c: Config) -> dict:
        return {"learning_rate": np.asarray(c.learning_rate, dtype),
                "clip_value": np.asarray(c.clip_value, dtype),
                "bptt_window": np.asarray(c.bptt_window, np.int32)}

    axes = {"curve": np.arange(0, cfg.epochs + 1, every_), "curve_label": "epoch",
            "profile": np.arange(1, cfg.seq_len + 1), "profile_label": "step t"}
    chunks = _make_chunks(cfg, data, every_, _make_diagnose(cfg, data, diagnostics))
    return Program(lambda c, seeds: _init(c, seeds, D, O), hparams, chunked_train(chunks), axes,
                   chunks)


def _make_diagnose(cfg: Config, data, enabled: bool):
    """``diagnose(params, window) -> ({"cos", "rel"}, (T,) profile)`` on the whole training set:
    the truncated-vs-full gradient bias (cell params) and ``||∂L/∂c_t||`` (NaN if not enabled).
    """
    X, Y = train_set(data)
    dtype = X.dtype
    cell, loss = get_cell(cfg.cell, cfg.activation), model.get_loss(cfg.loss)
    full_batch = (jnp.swapaxes(X, 0, 1), Y)  # (T, N, D), (N, O)
    full_bptt = jnp.zeros((), jnp.int32)  # a traced-style window <= 0: nothing cut

    def diagnose(params, window):
        if not enabled:
            nan = jnp.full((), jnp.nan, dtype)
            return {"cos": nan, "rel": nan}, jnp.full((cfg.seq_len,), jnp.nan, dtype)
        g_k = jax.grad(lambda p: make_loss_fn(cfg, window)(p, full_batch)[0])(params)
        g = jax.grad(lambda p: make_loss_fn(cfg, full_bptt)(p, full_batch)[0])(params)
        bias = gradient_bias(g_k["cell"], g["cell"])
        prof = carry_grad_norms(cell, params, full_batch[0],
                                lambda preds: cfg.loss_scale * loss(preds, Y))
        return bias, prof

    return diagnose


def _make_chunks(cfg: Config, data, every_: int, diagnose) -> Chunks:
    """The program's ``Chunks`` (module docstring): the task's ``make_epoch`` with the traced
    ``hp``, ``every_`` epochs per chunk, then one evaluation."""
    evaluate = make_evaluate(cfg, data)
    dtype = data.xe_train.dtype
    n = cfg.epochs // every_

    opt_of = functools.partial(traced_optimizer, cfg)

    def start(params, hp, key):
        bias0, prof0 = diagnose(params, hp["bptt_window"])
        first = {"grad_norm": jnp.asarray(jnp.nan, dtype), **evaluate(params)}
        return {"params": params, "opt_state": opt_of(hp).init(params),
                "pre": {"bias": bias0, "profile": prof0, "first": first}}

    def step(carry, hp, key, c):
        train_epoch = make_epoch(cfg, data, opt_of(hp), hp["bptt_window"])
        keys = jax.random.split(jax.random.split(key)[1], cfg.epochs)
        ks = keys.reshape((n, every_) + keys.shape[1:])[c]

        def epoch(state, k):
            p, s, m = train_epoch(*state, k)
            return (p, s), m["grad_norm"]

        (p, s), g = lax.scan(epoch, (carry["params"], carry["opt_state"]), ks)
        return ({**carry, "params": p, "opt_state": s},
                {"grad_norm": jnp.mean(g), **evaluate(p)})

    def finish(carry, hp, key, curves):
        bias1, prof1 = diagnose(carry["params"], hp["bptt_window"])
        pre = carry["pre"]
        out = {f"curve:{k}": jnp.concatenate([pre["first"][k][None], curves[k]])
               for k in CURVES}
        out.update({f"final:{k}": curves[k][-1] for k in CURVES})
        out.update({"final:bias_cos_init": pre["bias"]["cos"],
                    "final:bias_rel_init": pre["bias"]["rel"],
                    "final:bias_cos_final": bias1["cos"], "final:bias_rel_final": bias1["rel"],
                    "profile:grad_h_init": pre["profile"], "profile:grad_h_final": prof1})
        return out

    return Chunks(n, start, step, finish)


def check(configs: list, seeds: list) -> None:
    """Refuses sweeps whose seeds would all start from the same numpy draw."""
    if len(seeds) > 1 and any(c.numpy_init_seed >= 0 for c in configs):
        raise ValueError("numpy_init_seed >= 0 draws the same initial params for every seed, so "
                         "the seeds would differ only in shuffling; set numpy_init_seed: -1 in "
                         "the spec's base (or sweep numpy_init_seed itself with one seed)")


TASK = SweepTask(
    name="sine", config=Config, presets=PRESETS,
    traced=("learning_rate", "clip_value", "bptt_window"),
    init_only=("input_init", "recurrent_init", "readout_init", "numpy_init_seed"),
    metrics=("val_rmse", "val_loss", "train_loss", "train_rmse", "bias_cos_final",
             "bias_rel_final", "bias_cos_init", "bias_rel_init"),
    make_program=make_program, check=check, loss_curve="train_loss")
