"""Character-level language models: the min-char seed, min-char-rnn, char-rnn and a Shakespeare GRU.

``jaxrnn char --preset NAME [--field=value ...] [--resume] [--max-minutes M]`` trains on
tiny-shakespeare (downloaded once and verified; ``--corpus=stdlib`` runs offline, ``--text PATH``
takes any UTF-8 file) and writes to its run directory: ``config.json``, ``vocab.json``,
``data.json``, ``metrics.csv``, ``samples.txt``, ``loss.png``, ``summary.json`` and
``checkpoints/{latest,best}.ckpt``. Presets and their sources: ``experiments/char.md``.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import signal
import sys
from pathlib import Path
from typing import Literal

import jax
import jax.numpy as jnp
import optax

from jaxrnn import cells, initializers, optim
from jaxrnn.data import corpora
from jaxrnn.data.text import (build_vocab, eval_windows, read_text, split_ids, text_sha256,
                              windows_per_stream)
from jaxrnn.io import config, runs, settings
from jaxrnn.io.config import override  # noqa: F401 (callers use char.override)
from jaxrnn.io.failures import Interrupted
from jaxrnn.tasks.char.loop import (CharData, CharRun, ckpt_path, fresh_state, finish,
                                    load_checkpoint, make_keys, save_checkpoint, train_loop)
from jaxrnn.scale import distributed as multihost
from jaxrnn.tasks.char import parallel
from jaxrnn.tasks.char.model import ModelSpec, init_params
from jaxrnn.tasks.char.step import Schedule, init_state, make_chunk_fn, make_eval_fn


@dataclasses.dataclass(frozen=True)
class Config(config.Config):
    """A character model run; the defaults are karpathy's char-rnn (``PRESETS`` in char.md)."""

    RANGES = {**{name: ">=1" for name in ("hidden", "layers", "seq_len", "batch", "epochs",
                                          "log_every", "eval_every", "sample_length")},
              **{name: ">=0" for name in ("embed", "max_chars", "val_chars")},
              "val_fraction": ">0", "divergence_factor": ">1", "smooth_decay": "[0,1)",
              "sample_temperature": ">0", "dropout": "[0,1)"}
    CHOICES = {"cell": cells.CELLS, "activation": tuple(cells.ACTIVATIONS)}
    RENAMED = {"window": "seq_len"}
    # data: corpus name, or text = a UTF-8 file (overrides corpus); contiguous splits
    corpus: str = "tinyshakespeare"
    text: str = ""
    max_chars: int = 0  # use only the first N characters of the text (0: all), then split
    val_fraction: float = 0.05  # > 0: validation drives the best checkpoint
    test_fraction: float = 0.0
    val_chars: int = 0  # characters of validation text used by periodic evals (0: all)
    batching: Literal["stream", "random"] = "stream"
    carry_state: bool = True  # carry the hidden state from window to window (gradient cut)
    # model
    cell: str = "lstm"
    activation: str = "tanh"
    hidden: int = 128
    layers: int = 2
    embed: int = 0  # 0: one-hot input
    dropout: float = 0.0
    input_init: str = "uniform008"
    recurrent_init: str = "uniform008"
    readout_init: str = "uniform008"
    bias_init: str = "uniform008"
    forget_bias: float = 1.0
    dtype: Literal["float32", "float64"] = "float32"
    backward: Literal["scan", "fused"] = "scan"  # fused: the RNN's own backward pass (faster)
    # optimisation
    seq_len: int = 50  # T characters per training window (was ``window``)
    batch: int = 50
    epochs: int = 50
    loss_reduce: Literal["sum", "mean"] = "mean"
    optimizer: Literal["sgd", "adagrad", "adam", "rmsprop"] = "rmsprop"
    learning_rate: float = 2e-3
    lr_decay: float = 0.97  # lr *= lr_decay after each epoch >= lr_decay_after
    lr_decay_after: int = 10
    rms_decay: float = 0.95
    eps: float = 1e-8
    eps_inside_sqrt: bool = True  # AdaGrad: g / sqrt(a + eps) (True) or g / (sqrt(a) + eps)
    initial_accumulator: float = 0.0
    clip: Literal["none", "value", "global_norm"] = "value"
    clip_value: float = 5.0
    divergence_factor: float = 3.0  # stop when a loss exceeds this times the first loss
    smooth_decay: float = 0.999
    # logging
    log_every: int = 100  # steps per chunk (a metrics.csv row)
    eval_every: int = 1000  # steps between validation + sample + checkpoint
    sample_length: int = 200
    sample_temperature: float = 0.8
    sample_prime: str = ""  # "" : the first character of the text
    seed: int = 0

    def check(self):
        """Cross-field rules (ranges and choices are checked by ``validate`` first)."""
        cells.get_cell(self.cell, self.activation)
        for name in ("input_init", "recurrent_init", "readout_init", "bias_init"):
            initializers.get_initializer(getattr(self, name))
        if self.eval_every % self.log_every:
            raise ValueError(f"eval_every ({self.eval_every}) must be a multiple of log_every "
                             f"({self.log_every})")
        if self.backward == "fused" and self.cell != "rnn":
            raise ValueError(f"backward='fused' is for cell='rnn' only; got cell={self.cell!r} "
                             f"(set backward=scan)")
        if self.batching == "random" and self.carry_state:
            raise ValueError("batching='random' draws unrelated windows: set carry_state=false")
        if not self.text and self.corpus not in corpora.CORPORA:
            raise ValueError(f"unknown corpus {self.corpus!r}; expected one of "
                             f"{', '.join(corpora.CORPORA)} (or --text PATH for any UTF-8 file)")


PRESETS = {
    # SEEDS B: vanilla RNN 75, one-hot, W_hh = 0.01 I, windows of 20 from zero state, summed
    # loss, AdaGrad 1e-2 with eps outside the sqrt, clip ±5, first 20,000 characters, 50 epochs;
    # held out: the 5,000 characters that follow them.
    "min-char": Config(
        max_chars=25_000, val_fraction=0.2, carry_state=False, cell="rnn",
        hidden=75, layers=1, input_init="randn001", recurrent_init="identity001",
        readout_init="randn001", bias_init="zeros", seq_len=20, batch=1, loss_reduce="sum",
        optimizer="adagrad", learning_rate=1e-2, lr_decay=1.0, eps_inside_sqrt=False,
        log_every=999, eval_every=999, sample_length=200, sample_temperature=1.0),
    # karpathy's min-char-rnn: hidden 100, seq 25, lr 0.1, randn*0.01, state carried, AdaGrad
    # accumulator 0 and eps 1e-8 inside the sqrt (optax.scale_by_rss), summed loss.
    "min-char-rnn": Config(
        cell="rnn", hidden=100, layers=1, input_init="randn001", recurrent_init="randn001",
        readout_init="randn001", bias_init="zeros", seq_len=25, batch=1, epochs=2,
        loss_reduce="sum", optimizer="adagrad", learning_rate=0.1, lr_decay=1.0,
        log_every=1000, eval_every=10_000, sample_temperature=1.0),
    # karpathy's char-rnn defaults: 2-layer LSTM 128, seq 50, batch 50, RMSprop 2e-3 (decay
    # 0.95), lr x0.97 per epoch after 10, clip ±5, U(±0.08) init, forget bias 1, 95/5 split.
    "char-rnn": Config(smooth_decay=0.99),
    # Keras's Shakespeare GRU (embedding 256 -> GRU 1024 -> dense, batch 64, seq 100, Adam),
    # shrunk to ~10 CPU minutes: embedding 64 -> GRU 256 -> dense, batch 64, seq 64, state
    # carried, Adam 4e-3 (x0.85 per epoch from epoch 3), global-norm clip 5, 6 epochs.
    "shakespeare-gru": Config(
        cell="gru", hidden=256, layers=1, embed=64, input_init="glorot",
        recurrent_init="orthogonal", readout_init="glorot", bias_init="zeros", seq_len=64,
        batch=64, epochs=6, optimizer="adam", learning_rate=4e-3, lr_decay=0.85,
        lr_decay_after=3, clip="global_norm", clip_value=5.0, smooth_decay=0.99, log_every=20,
        eval_every=100),
}


def load_text(corpus: str, path: str = "", max_chars: int = 0) -> tuple[str, dict]:
    """``(text, source)``: the UTF-8 file ``path`` or else the named corpus, cut to its first
    ``max_chars`` characters (0: all). Shared by the task and its sweep program."""
    if path and os.path.isdir(path):
        raise IsADirectoryError(f"--text {path!r} is a directory; give a UTF-8 text file")
    if path:
        text, source = read_text(path), {"text": os.path.abspath(path)}
    else:
        text, source = corpora.load_corpus(corpus)
    return (text[:max_chars] if max_chars else text), source


def load_data(cfg: Config) -> CharData:
    """The run's text (its first ``max_chars``), its vocabulary and contiguous splits (checked)."""
    text, source = load_text(cfg.corpus, cfg.text, cfg.max_chars)
    vocab = build_vocab(text)
    train, val, test = split_ids(vocab.encode(text), cfg.val_fraction, cfg.test_fraction)
    if cfg.batching == "stream":
        windows_per_stream(len(train), cfg.batch, cfg.seq_len)
    elif len(train) < cfg.seq_len + 1:
        windows_per_stream(len(train), 1, cfg.seq_len)  # raises the "shorter than" error
    eval_windows(val, cfg.batch, cfg.seq_len)  # raises if the validation text is too short
    if cfg.sample_prime:
        vocab.encode(cfg.sample_prime, what=f"sample_prime {cfg.sample_prime!r}")
    return CharData(vocab, train, val, test, text_sha256(text),
                    {**source, "chars": len(text), "vocab_size": vocab.size,
                     "train_chars": len(train), "val_chars": len(val), "test_chars": len(test)})


def steps_per_epoch(cfg: Config, n_train: int) -> int:
    """k: windows per pass over the streams, or N // (B T) random windows."""
    if cfg.batching == "stream":
        return windows_per_stream(n_train, cfg.batch, cfg.seq_len)
    return max(1, n_train // (cfg.batch * cfg.seq_len))


def make_optimizer(cfg: Config, k: int) -> optax.GradientTransformation:
    """The preset's optimiser; lr ``η_0 d^max(0, j - a + 1)`` in (0-based) epoch j = step // k."""
    lr = cfg.learning_rate
    if cfg.lr_decay != 1.0:
        def lr(count, base=cfg.learning_rate, d=cfg.lr_decay, a=cfg.lr_decay_after):
            return base * d ** jnp.maximum(0, count // k - (a - 1))
    return optim.make_optimizer(
        cfg.optimizer, lr, clip=cfg.clip, clip_value=cfg.clip_value, eps=cfg.eps,
        initial_accumulator=cfg.initial_accumulator, eps_inside_sqrt=cfg.eps_inside_sqrt,
        decay=cfg.rms_decay)


def model_spec(cfg: Config, vocab_size: int) -> ModelSpec:
    return ModelSpec(cfg.cell, vocab_size, cfg.hidden, cfg.layers, cfg.embed, cfg.activation,
                     cfg.dropout, cfg.input_init, cfg.recurrent_init, cfg.readout_init,
                     cfg.bias_init, cfg.forget_bias, dtype=cfg.dtype, backward=cfg.backward)


# fields that do not change the compiled functions (given the model spec and the schedule)
NOT_COMPILED = ("corpus", "text", "max_chars", "val_fraction", "test_fraction", "val_chars",
                "epochs", "log_every", "eval_every", "sample_length", "sample_temperature",
                "sample_prime", "seed")


def jitted(cfg: Config, spec: ModelSpec, sched: Schedule, mesh=None):
    """``_jitted`` keyed on the fields that matter, so e.g. another seed reuses compilations."""
    defaults = Config()
    return _jitted(dataclasses.replace(cfg, **{f: getattr(defaults, f) for f in NOT_COMPILED}),
                   spec, sched, mesh)


@functools.lru_cache(maxsize=8)
def _jitted(cfg: Config, spec: ModelSpec, sched: Schedule, mesh=None):
    """``(optimizer, init, run_chunk, evaluate)``, cached: runs of one config share compilations.

    ``init(k_init, k_train)`` is the state before step 0 (one compilation instead of one per
    initialiser call). With a ``mesh`` the two are jitted data-parallel (``parallel``).
    """
    optimizer = make_optimizer(cfg, sched.steps_per_epoch)

    def init(k_init, k_train):
        return init_state(spec, init_params(k_init, spec), optimizer, k_train, cfg.batch)

    run_chunk = make_chunk_fn(spec, optimizer, sched)
    if mesh is None:
        init, run_chunk = jax.jit(init), jax.jit(run_chunk)
    else:
        init, run_chunk = parallel.jit_on_mesh(init, run_chunk, mesh, sched.batching)
    return optimizer, init, run_chunk, jax.jit(make_eval_fn(spec, sched.carry_state))


def make_run(cfg: Config, out, devices: int = 0, local: bool = False) -> CharRun:
    """Data, model, optimiser, schedule and jitted functions of a run (no training), on the
    first ``devices`` devices of every process (0: all; ``parallel.make_mesh``)."""
    settings.require_dtype(cfg.dtype)
    data = load_data(cfg)
    k = steps_per_epoch(cfg, len(data.train))
    sched = Schedule(cfg.batching, cfg.seq_len, cfg.batch, k, cfg.carry_state, cfg.loss_reduce,
                     cfg.divergence_factor, cfg.smooth_decay)
    spec = model_spec(cfg, data.vocab.size)
    mesh = parallel.make_mesh(devices, cfg.batch, local)
    optimizer, init, run_chunk, evaluate = jitted(cfg, spec, sched, mesh)
    return CharRun(cfg, Path(out), data, spec, optimizer, sched, make_keys(cfg.seed), init,
                   run_chunk, evaluate, mesh)


def _start(run: CharRun, resume: bool, origin: dict | None = None):
    if resume:
        latest = ckpt_path(run.out, "latest")
        if not latest.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint at {latest} (nothing to resume; "
                                    f"drop --resume to start a new run there)")
        state, log = load_checkpoint(run, latest)
        runs.make_run_dir(run.out, run.cfg, exist_ok=True, origin=origin)
        return state, log
    runs.make_run_dir(run.out, run.cfg, started="checkpoints/latest.ckpt", origin=origin,
                      again="pass --resume to continue it")
    runs.write_json(run.out / "vocab.json", {"chars": run.data.vocab.chars})
    runs.write_json(run.out / "data.json", {**run.data.source, "sha256": run.data.sha256})
    state = fresh_state(run)
    log = {"history": [], "samples": [], "best_val": None, "best_step": None, "elapsed_s": 0.0,
           "train_s": 0.0, "compile_s": 0.0}
    save_checkpoint(run, "latest", state, log)  # step 0: a good state to fall back on
    return state, log


def _largest_divisor(n: int, at_most: int, multiple_of: int = 1) -> int:
    """The largest d <= at_most dividing n with d % multiple_of == 0 (``multiple_of`` divides n)."""
    return max(d for d in range(multiple_of, min(n, at_most) + 1, multiple_of) if n % d == 0) \
        if at_most >= multiple_of else multiple_of


def for_steps(cfg: Config, steps: int, k: int) -> tuple[Config, list[str]]:
    """``(cfg, changes)`` for a run of exactly ``steps`` steps (``--steps``): ``epochs`` becomes
    ceil(steps / k) (k windows per epoch), ``log_every`` the largest divisor of ``steps`` not
    above it, and ``eval_every`` the largest multiple of that dividing ``steps`` not above it
    (so the last step gets a metrics row and an evaluation). ``changes`` says what moved."""
    if steps < 1:
        raise ValueError(f"--steps must be >= 1; got {steps}")
    log = _largest_divisor(steps, cfg.log_every)
    new = dataclasses.replace(cfg, epochs=-(-steps // k), log_every=log,
                              eval_every=_largest_divisor(steps, cfg.eval_every, log))
    changes = [f"{f} {getattr(cfg, f)} -> {getattr(new, f)}" for f in
               ("epochs", "log_every", "eval_every") if getattr(new, f) != getattr(cfg, f)]
    return new, changes


def _check_stop_at(stop_at: int | None, log_every: int) -> None:
    if stop_at is not None and (stop_at < 1 or stop_at % log_every):
        raise ValueError(f"--stop-at must be a positive multiple of log_every={log_every}; "
                         f"got {stop_at} (or use --steps N for a run of exactly N steps)")


def main(cfg: Config, out, *, resume: bool = False, steps: int | None = None,
         stop_at: int | None = None, max_minutes: float = 0.0, quiet: bool = False,
         origin: dict | None = None, devices: int = 0, local: bool = False,
         distributed: bool = False, coordinator=None, num_processes=None,
         process_id=None) -> Path:
    """Trains (or resumes) a character model; writes the run directory; returns its path.

    ``steps``: train exactly that many steps, the intervals adapted (``for_steps``; the
    changes are printed); ``stop_at``: stop early at a multiple of ``log_every`` (resume
    later); ``origin`` (``jaxrnn.io.provenance.record``) goes into ``config.json``.
    ``devices``/``distributed``...: data-parallel over the first ``devices`` devices of every
    process (0: all) and several hosts (``jaxrnn.scale``; process 0 writes the directory);
    ``local``: on this process's first device only (the batch-1 seeds under ``reproduce``).
    """
    multihost.initialize(distributed, coordinator, num_processes, process_id)
    if steps is None:
        _check_stop_at(stop_at, cfg.log_every)
    run = make_run(cfg, out, devices, local)
    if steps is not None:
        cfg, changes = for_steps(cfg, steps, run.sched.steps_per_epoch)
        run = run._replace(cfg=cfg)  # epochs and intervals change no compiled function
        if changes and not quiet:
            print(f"char: --steps {steps}: " + ", ".join(changes), file=sys.stderr)
        _check_stop_at(stop_at, cfg.log_every)
    total = cfg.epochs * run.sched.steps_per_epoch
    state, log = _start(run, resume, origin)
    stop = min(x for x in (total, stop_at, steps) if x is not None)
    state, log, reason, signum = train_loop(run, state, log, stop=stop,
                                            max_seconds=60.0 * (max_minutes or 0.0), quiet=quiet)
    if reason == "stopped" and steps is not None and int(state.step) == steps:
        reason = "completed"  # the run asked for is done
    summary = finish(run, state, log, reason)
    if signum is not None:
        raise Interrupted(signum, f"interrupted by {signal.Signals(signum).name} at step "
                                  f"{summary['steps']}; saved {ckpt_path(run.out, 'latest')}; "
                                  f"continue with --resume --out {run.out}")
    if not quiet:
        wrote = "wrote" if runs.is_writer() else "process 0 wrote"
        print(f"{multihost.tag()}char: {reason} at step {summary['steps']} (epoch "
              f"{summary['epochs']:.2f}); val {summary['val_loss']:.4f} nats/char "
              f"({summary['val_bits_per_char']:.3f} bits), smoothed train "
              f"{summary['smooth_loss']:.4f}; {summary['chars_per_s']} chars/s of training "
              f"(compile {summary['compile_s'] or 0:.1f} s apart); {wrote} "
              f"{run.out}\nsample: {summary['sample'][:300]}")
    return run.out


def add_arguments(parser) -> None:
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from checkpoints/latest.ckpt")
    parser.add_argument("--steps", type=int, default=None, metavar="N",
                        help="train exactly N steps (epochs, log_every and eval_every adapt; "
                             "the changes are printed)")
    parser.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                        help="stop early after STEP steps (a multiple of log_every); --resume "
                             "later")
    parser.add_argument("--max-minutes", type=float, default=0.0, metavar="M",
                        help="stop after the chunk that passes M minutes of training")
    parser.add_argument("--quiet", action="store_true", help="no per-evaluation lines")
    parser.add_argument("--devices", type=int, default=0, metavar="N",
                        help="data-parallel over the first N devices of each host (default all)")
    multihost.add_arguments(parser)


def reproduce_section(out_dir, quick: bool) -> str:
    """The char section of ``jaxrnn reproduce`` (``jaxrnn.tasks.char.report.section``)."""
    from jaxrnn.tasks.char import report

    return report.section(out_dir, quick)
