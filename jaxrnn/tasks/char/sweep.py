"""A small character language model as a sweep task (the truncation study's text model).

One cell layer over one-hot characters and a linear readout to the V logits; the loss is the mean
cross-entropy over the T B characters of a batch of B windows of T characters drawn at random
starts (``jaxrnn.data.text.random_windows``, key ``fold_in(k_train, step)``), each window from a
zero state. The gradient of the window's loss is truncated to ``bptt_window`` steps (windows
anchored at the start: the loss at step t reaches back to the start of t's k-block; 0 = all T
steps). Held out: the last ``val_fraction`` of the text (its first ``val_chars`` characters) cut
into consecutive windows (``eval_windows``), each from a zero state.

Traced: ``learning_rate``, ``clip_value``, ``bptt_window``; init-only: the initialisers.
Outputs every ``log_every`` steps: ``train_bpc`` (mean over the interval) and ``val_bpc`` in bits
per character; finals, the truncated-vs-full gradient bias on the first held-out batch, and
``||∂L/∂h_t||`` over t on it.
"""
from __future__ import annotations

import functools
import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxrnn import model, train
from jaxrnn.cells import ACTIVATIONS, CELLS, get_cell
from jaxrnn.data import corpora
from jaxrnn.data.text import build_vocab, eval_windows, random_windows, split_ids
from jaxrnn.grad.diagnostics import carry_grad_norms, gradient_bias
from jaxrnn.initializers import get_initializer
from jaxrnn.io import config, settings
from jaxrnn.model import readouts
from jaxrnn.optim import CLIPS, OPTIMIZERS
from jaxrnn.sweep.contract import Chunks, Program, SweepTask, chunked_train
from jaxrnn.sweep.traced import traced_optimizer, unroll_traced
from jaxrnn.tasks.char.main import load_text


@dataclasses.dataclass(frozen=True)
class Config(config.Config):
    """One small character model (a sweep preset, not ``main.Config``); defaults train in about a
    minute on a CPU."""

    RANGES = {"seq_len": ">=2", "hidden": ">=1", "batch": ">=1", "steps": ">=1",
              "log_every": ">=1", "bptt_window": ">=0", "max_chars": ">=0", "val_chars": ">=0",
              "val_fraction": "(0,1)"}
    CHOICES = {"cell": CELLS, "activation": tuple(ACTIVATIONS), "optimizer": OPTIMIZERS,
               "clip": CLIPS, "dtype": ("float32", "float64")}
    RENAMED = {"window": "seq_len"}
    corpus: str = "tinyshakespeare"
    text: str = ""  # a UTF-8 file instead of the corpus
    max_chars: int = 100_000  # the first N characters of the text (0: all)
    val_fraction: float = 0.1
    val_chars: int = 8_000  # held-out characters evaluated (0: all)
    seq_len: int = 50  # T characters per training window (was ``window``)
    bptt_window: int = 0  # truncation k (0: full window)
    cell: str = "rnn"
    activation: str = "tanh"
    hidden: int = 64
    batch: int = 32
    steps: int = 600
    log_every: int = 100
    optimizer: str = "adam"
    learning_rate: float = 3e-3
    clip: str = "global_norm"
    clip_value: float = 1.0
    input_init: str = "glorot"
    recurrent_init: str = "orthogonal"
    readout_init: str = "glorot"
    seed: int = 0
    dtype: str = "float32"

    def check(self):
        """Cross-field rules (ranges and choices are checked by ``validate`` first)."""
        get_cell(self.cell, self.activation)
        for name in ("input_init", "recurrent_init", "readout_init"):
            get_initializer(getattr(self, name))
        if self.steps % self.log_every:
            raise ValueError(f"steps ({self.steps}) must be a multiple of log_every "
                             f"({self.log_every})")
        if not self.text and self.corpus not in corpora.CORPORA:
            raise ValueError(f"corpus must be one of {corpora.CORPORA} (or text=PATH); got "
                             f"{self.corpus!r}")


PRESETS = {"char-small": Config()}


def load_ids(cfg: Config):
    """``(train ids, held-out ids, V)`` of the config's text (``main.load_text``)."""
    text, _ = load_text(cfg.corpus, cfg.text, cfg.max_chars)
    vocab = build_vocab(text)
    tr, val, _ = split_ids(vocab.encode(text), cfg.val_fraction)
    if cfg.val_chars:
        val = val[:cfg.val_chars]
    return tr, val, vocab.size


def _init(cfg: Config, seeds: list, V: int) -> dict:
    def one(seed):
        k_init = jax.random.split(jax.random.PRNGKey(seed))[0]
        return model.init_model(k_init, cfg.cell, V, cfg.hidden, V, activation=cfg.activation,
                                cell_kwargs={"input_init": cfg.input_init,
                                             "recurrent_init": cfg.recurrent_init},
                                readout_init=cfg.readout_init, dtype=jnp.dtype(cfg.dtype))

    return jax.tree_util.tree_map(np.asarray, jax.jit(jax.vmap(one))(np.asarray(seeds,
                                                                                  np.uint32)))


def make_program(cfg: Config) -> Program:
    """The vmappable program of ``cfg``'s static fields (module docstring)."""
    settings.require_dtype(cfg.dtype)
    train_ids, val_ids, V = load_ids(cfg)
    train_ids = jnp.asarray(train_ids)
    x_val, y_val = (jnp.asarray(a) for a in eval_windows(val_ids, cfg.batch, cfg.seq_len))
    cell, xent = get_cell(cfg.cell, cfg.activation), model.get_loss("xent_mean")
    n_log, bits = cfg.steps // cfg.log_every, 1.0 / math.log(2.0)

    def loss_fn(window):
        def fn(params, batch):
            xs, ys = batch
            hs, _ = unroll_traced(cell, params["cell"], xs, window, anchor="start")
            return xent(readouts(params["readout"], hs), ys), {}
        return fn

    def val_bpc(params):
        return bits * jnp.mean(jax.vmap(lambda x, y: loss_fn(0)(params, (x, y))[0])(x_val, y_val))

    def diagnostics(params, window):
        batch = (x_val[0], y_val[0])
        g_k = jax.grad(lambda p: loss_fn(window)(p, batch)[0])(params)
        g = jax.grad(lambda p: loss_fn(0)(p, batch)[0])(params)
        prof = carry_grad_norms(cell, params, batch[0], lambda z: xent(z, batch[1]))
        return gradient_bias(g_k["cell"], g["cell"]), prof

    opt_of = functools.partial(traced_optimizer, cfg)

    def start(params, hp, key):
        bias0, prof0 = diagnostics(params, hp["bptt_window"])
        return {"params": params, "opt_state": opt_of(hp).init(params),
                "pre": {"bias": bias0, "profile": prof0, "val": val_bpc(params)}}

    def step(carry, hp, key, c):
        train_step = train.make_train_step(loss_fn(hp["bptt_window"]), opt_of(hp))
        k_train = jax.random.split(key)[1]

        def step_at(params, opt_state, s):  # step s trains on its own random windows
            batch = random_windows(jax.random.fold_in(k_train, s), train_ids, cfg.batch,
                                   cfg.seq_len)
            return train_step(params, opt_state, batch)

        p, o, m = train.scan_steps(step_at, carry["params"], carry["opt_state"],
                                   c * cfg.log_every + jnp.arange(cfg.log_every))
        return {**carry, "params": p, "opt_state": o}, (bits * jnp.mean(m["loss"]), val_bpc(p))

    def finish(carry, hp, key, curves):
        train_bpc, val = curves
        bias0, prof0 = carry["pre"]["bias"], carry["pre"]["profile"]
        bias1, prof1 = diagnostics(carry["params"], hp["bptt_window"])
        return {"curve:train_bpc": jnp.concatenate([jnp.full((1,), jnp.nan, val.dtype),
                                                    train_bpc]),
                "curve:val_bpc": jnp.concatenate([carry["pre"]["val"][None], val]),
                "final:val_bpc": val[-1], "final:train_bpc": train_bpc[-1],
                "final:bias_cos_init": bias0["cos"], "final:bias_rel_init": bias0["rel"],
                "final:bias_cos_final": bias1["cos"], "final:bias_rel_final": bias1["rel"],
                "profile:grad_h_init": prof0, "profile:grad_h_final": prof1}

    def hparams(c: Config) -> dict:
        dtype = jnp.dtype(c.dtype)
        return {"learning_rate": np.asarray(c.learning_rate, dtype),
                "clip_value": np.asarray(c.clip_value, dtype),
                "bptt_window": np.asarray(c.bptt_window, np.int32)}

    axes = {"curve": np.arange(n_log + 1) * cfg.log_every, "curve_label": "step",
            "profile": np.arange(1, cfg.seq_len + 1), "profile_label": "step t"}
    chunks = Chunks(n_log, start, step, finish)
    return Program(lambda c, seeds: _init(c, seeds, V), hparams, chunked_train(chunks), axes,
                   chunks)


def _check(configs: list, seeds: list) -> None:
    del configs, seeds


TASK = SweepTask(
    name="char", config=Config, presets=PRESETS,
    traced=("learning_rate", "clip_value", "bptt_window"),
    init_only=("input_init", "recurrent_init", "readout_init"),
    metrics=("val_bpc", "train_bpc", "bias_cos_final", "bias_rel_final", "bias_cos_init",
             "bias_rel_init"),
    make_program=make_program, check=_check, loss_curve="val_bpc")
