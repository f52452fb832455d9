"""Online training with a gradient estimator: episodes stream, params update every k steps.

Tasks (each episode a fresh batch of B sequences of T steps, drawn from ``cfg.seed``):

===========  =================================================================================
``sine``     x_t = sin(ω t + φ), random phase φ per sequence, ω = 2π/``period``; predict
             x_{t+1} at every step (squared error); short memory (the phase)
``adding``   the adding problem (``jaxrnn.data.memory``): the loss is read at the last step only;
             memory horizon ~T/2; predicting 1 scores 1/6
``char``     next-character prediction (cross-entropy, nats) on the first ``CHAR_TEXT[1]``
             characters of the offline Python-stdlib corpus (``jaxrnn.data.corpora``), windows
             of T at random starts; D = O = its vocabulary size
===========  =================================================================================

``method``: "tbptt" (``jax.grad`` of every window of ``every`` steps; ``every = T`` is full
BPTT, one update per episode) or an online estimator (``jaxrnn.online``: rtrl_jac, uoro,
kfrtrl, snap1, snap2, rflo, eprop), which accumulates its gradient estimate step by step and
applies it every ``every`` steps (``jaxrnn.online.train``). Writes ``config.json``,
``metrics.csv`` (episode, loss) and ``summary.json``.
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
from jaxrnn.data.corpora import load_corpus
from jaxrnn.data.memory import adding_batch
from jaxrnn.data.text import build_vocab, random_windows
from jaxrnn.io import config, runs
from jaxrnn.online.registry import is_estimator, supports
from jaxrnn.online.train import init_state, make_episode

TASKS = ("sine", "adding", "char")
CHAR_TEXT = ("stdlib", 200_000)  # (corpus, characters): offline, the same on every machine


@dataclasses.dataclass(frozen=True)
class Config(config.Config):
    """One online-training run (preset "sine-uoro"); seconds on a CPU."""

    RANGES = {"T": ">=2", "batch": ">=1", "hidden": ">=1", "every": ">=1", "episodes": ">=1",
              "log_every": ">=1", "learning_rate": ">0", "period": ">0"}
    CHOICES = {"task": TASKS, "optimizer": optim.OPTIMIZERS}

    task: str = "sine"
    T: int = 20  # steps per episode
    batch: int = 8
    period: float = 12.0  # sine: steps per cycle
    cell: str = "rnn"
    activation: str = "tanh"
    hidden: int = 8
    method: str = "uoro"  # "tbptt" or an online estimator name
    every: int = 1  # steps between parameter updates (T must be a multiple)
    optimizer: str = "adam"
    learning_rate: float = 3e-3
    episodes: int = 200
    log_every: int = 50  # episodes per jitted chunk
    seed: int = 0

    def check(self):
        """Cross-field rules (the base checks types, choices and ranges first)."""
        cells.get_cell(self.cell, self.activation)
        if self.method != "tbptt" and not is_estimator(self.method):
            raise ValueError(f"method must be 'tbptt' or an online estimator name; got "
                             f"{self.method!r}")
        if not supports(self.method, self.cell):
            raise ValueError(f"method {self.method!r} is defined for the vanilla RNN only; use "
                             f"--cell=rnn, or uoro, snap1 or rtrl_jac for cell {self.cell!r}")
        if self.T % self.every:
            raise ValueError(f"T={self.T} must be a multiple of every={self.every} (updates "
                             f"every k steps within an episode)")


PRESETS = {"sine-uoro": Config(),
           "sine-bptt": Config(method="tbptt", every=20),
           "adding-rtrl": Config(task="adding", T=10, hidden=16, method="rtrl_jac", every=10)}


@functools.lru_cache(maxsize=1)
def char_ids() -> tuple:
    """(ids (N,) int32 of the ``CHAR_TEXT`` text, vocabulary size V)."""
    text = load_corpus(CHAR_TEXT[0])[0][:CHAR_TEXT[1]]
    vocab = build_vocab(text)
    return np.asarray(vocab.encode(text), np.int32), vocab.size


def episode_batch(cfg: Config, key):
    """(xs (T, B, D), ys (T, B, O), w (T,)) of one episode: inputs, per-step targets, weights
    (char: xs and ys (T, B) character ids)."""
    if cfg.task == "char":
        xs, ys = random_windows(key, jnp.asarray(char_ids()[0]), cfg.batch, cfg.T)
        return xs, ys, jnp.ones((cfg.T,))
    if cfg.task == "adding":
        xs, y = adding_batch(key, cfg.T, cfg.batch)
        w = jnp.zeros((cfg.T,)).at[-1].set(float(cfg.T))  # L = ℓ_T: the last step only
        return xs, jnp.broadcast_to(y, (cfg.T,) + y.shape), w
    phase = jax.random.uniform(key, (cfg.batch,), maxval=2 * jnp.pi)
    t = jnp.arange(cfg.T + 1, dtype=jnp.float32)[:, None]
    wave = jnp.sin(2 * jnp.pi * t / cfg.period + phase[None, :])[..., None]  # (T + 1, B, 1)
    return wave[:-1], wave[1:], jnp.ones((cfg.T,))


def dims(cfg: Config) -> tuple:
    """(D, O) of the task."""
    if cfg.task == "char":
        return char_ids()[1], char_ids()[1]
    return (2, 1) if cfg.task == "adding" else (1, 1)


def _keys(cfg: Config):
    """(init, estimator state, data) keys, split once from ``cfg.seed``."""
    return jax.random.split(jax.random.PRNGKey(cfg.seed), 3)


def init_params(cfg: Config) -> dict:
    """The model's params before training (``model.init_model``, float32)."""
    D, O = dims(cfg)
    return model.init_model(_keys(cfg)[0], cfg.cell, D, cfg.hidden, O, activation=cfg.activation)


def fit(cfg: Config, on_chunk=None):
    """Trains ``cfg.episodes`` episodes through ``train.run_chunks``; returns (params, losses)."""
    cell = cells.get_cell(cfg.cell, cfg.activation)
    _, k_state, k_data = _keys(cfg)
    params = init_params(cfg)
    optimizer = optim.make_optimizer(cfg.optimizer, cfg.learning_rate)
    episode = make_episode(cell, cfg.method, optimizer, cfg.every,
                           "xent" if cfg.task == "char" else "squared")

    @functools.partial(jax.jit, static_argnums=(1, 2))
    def run_chunk(state, a, b):
        keys = jax.vmap(lambda i: jax.random.fold_in(k_data, i))(jnp.arange(a, b))
        return jax.lax.scan(lambda s, k: episode(s, episode_batch(cfg, k)), state, keys)

    losses = []

    def log(state, metrics, a, b, seconds):
        losses.extend(np.asarray(metrics["loss"]).tolist())
        return on_chunk(state, metrics, a, b, seconds) if on_chunk else None

    done = train.run_chunks(run_chunk, init_state(params, optimizer, k_state), start=0,
                            stop=cfg.episodes, every=cfg.log_every, on_chunk=log)
    if done.reason == "interrupted":
        raise KeyboardInterrupt
    return done.state.params, np.asarray(losses)


def add_arguments(parser) -> None:
    """Extra CLI flags (passed to ``main``)."""
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a finished run already in --out")


def main(cfg: Config, out, *, origin: dict | None = None, overwrite: bool = False) -> Path:
    """Trains and writes the run directory; returns its path. ``origin``: where the run came
    from (``jaxrnn.io.provenance.record``), written to ``config.json``."""
    out = runs.make_run_dir(out, cfg, exist_ok=overwrite, origin=origin)
    t0 = time.perf_counter()
    _, losses = fit(cfg)
    wall = time.perf_counter() - t0
    runs.write_csv(out / "metrics.csv", [{"episode": i + 1, "loss": float(v)}
                                         for i, v in enumerate(losses)])
    tail = float(np.mean(losses[-max(1, len(losses) // 10):]))
    runs.write_json(out / "summary.json", {"status": "completed", "first_loss": float(losses[0]),
                                           "final_loss_last_10pct": tail, "wall_time_s": wall})
    print(f"online {cfg.task} {cfg.method} every {cfg.every}: loss {losses[0]:.4f} -> {tail:.4f} "
          f"(mean of the last 10% of {cfg.episodes} episodes) in {wall:.1f} s; wrote {out}")
    return out
