"""The character-model training loop: chunks, validation, samples, checkpoints, resume, guard.

One chunk of ``log_every`` train steps runs on the device (``step.make_chunk_fn``, jitted once),
driven by the one training loop ``jaxrnn.train.run_chunks``; after each chunk its callback gets
the chunk's summed metrics and appends a row to ``metrics.csv``.
Every ``eval_every`` steps it evaluates on the validation text, writes a sample, and saves the
checkpoints ``checkpoints/latest.ckpt`` (always) and ``checkpoints/best.ckpt`` (when validation
improved). A checkpoint holds the whole ``TrainState`` (params, optimiser state, carries, key,
step, first and smoothed loss) and the metric history, so ``resume`` continues exactly: on CPU a
stopped-and-resumed run gives bitwise the same params and metrics as an uninterrupted one.

A chunk with a bad step (non-finite loss, or above ``divergence_factor`` times the first loss)
is discarded and ``DivergenceError`` names the step and the last good checkpoint.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrnn import train
from jaxrnn.data.text import Vocab, eval_windows, make_streams
from jaxrnn.io import checkpoint, runs
from jaxrnn.io.failures import DivergenceError, deferred_signals
from jaxrnn.io.config import config_hash, to_dict, upgrade_saved
from jaxrnn.io.progress import Progress, compiling
from jaxrnn.plots import char as plots_char
from jaxrnn.scale import distributed as multihost
from jaxrnn.plots import common as plotting
from jaxrnn.tasks.char import parallel
from jaxrnn.tasks.char.model import ModelSpec
from jaxrnn.tasks.char.sample import sample_text
from jaxrnn.tasks.char.step import Schedule

RESUMABLE = ("epochs",)  # config fields a resumed run may change (the run just goes on longer)
TIMING = ("elapsed_s", "chars_per_s")  # metrics.csv columns that differ between machines/runs


class CharData(NamedTuple):
    """A run's text: vocabulary, (N,) int32 id splits, the text's sha256, and its source."""

    vocab: Vocab
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    sha256: str
    source: dict


class CharRun(NamedTuple):
    """What the loop needs besides the state (static for a run)."""

    cfg: object
    out: Path
    data: CharData
    spec: ModelSpec
    optimizer: object
    sched: Schedule
    keys: tuple  # (init, train, sample)
    init: object  # jitted (k_init, k_train) -> TrainState before step 0
    run_chunk: object  # jax.jit(make_chunk_fn(...))
    evaluate: object  # jax.jit(make_eval_fn(...))
    mesh: object = None  # the batch mesh of a data-parallel run (``parallel``), else None


def make_keys(seed: int):
    """``(init, train, sample)`` keys from one seed (split once, never reused)."""
    return tuple(jax.random.split(jax.random.PRNGKey(seed), 3))


def ckpt_path(out: Path, which: str) -> Path:
    return Path(out) / "checkpoints" / f"{which}.ckpt"


def _meta(run: CharRun, state, log: dict) -> dict:
    step, k = int(state.step), run.sched.steps_per_epoch
    return {"step": step, "data_position": {"epoch": step // k, "window": step % k},
            "config": to_dict(run.cfg),
            "config_hash": config_hash(run.cfg), "vocab": run.data.vocab.chars,
            "text_sha256": run.data.sha256, **log}


def save_checkpoint(run: CharRun, which: str, state, log: dict) -> Path:
    """Writes ``state`` and the log (history, samples, best) as checkpoint ``which``."""
    return checkpoint.save(ckpt_path(run.out, which), {"state": state}, _meta(run, state, log))


def fresh_state(run: CharRun):
    """The state before step 0, from the run's init and train keys."""
    return run.init(*parallel.place_keys(run.mesh, run.keys[:2]))


def load_checkpoint(run: CharRun, path) -> tuple:
    """``(state, log)`` from a checkpoint of this run; refuses another vocabulary/text/config."""
    arrays, meta = checkpoint.load(path)
    source = f"checkpoint {str(path)!r}"
    checkpoint.check_meta(meta, {"vocab": run.data.vocab.chars,
                                 "text_sha256": run.data.sha256}, source=source)
    mine = to_dict(run.cfg)
    stored = upgrade_saved(run.cfg, meta["config"])  # old field names mapped
    theirs = {k: v for k, v in stored.items() if k not in RESUMABLE}
    checkpoint.check_meta(theirs, {k: v for k, v in mine.items() if k not in RESUMABLE},
                          source=source)
    state = checkpoint.restore({"state": fresh_state(run)}, arrays, source=source)["state"]
    state = parallel.place_state(run.mesh, state)  # any device count: the arrays are whole
    log = {k: meta[k] for k in ("history", "samples", "best_val", "best_step", "elapsed_s")}
    log.update({k: meta.get(k) for k in ("train_s", "compile_s")})  # None in older checkpoints
    return state, log


def _write_outputs(run: CharRun, log: dict) -> None:
    runs.write_csv(run.out / "metrics.csv", log["history"])
    text = "".join(f"--- step {s['step']} (epoch {s['epoch']:.2f}) ---\n{s['text']}\n\n"
                   for s in log["samples"])
    runs.atomic_write_bytes(run.out / "samples.txt", text.encode("utf-8"))


def evaluate(run: CharRun, params, ids, max_chars: int = 0) -> float:
    """Mean nats/char of ``params`` on (the first ``max_chars`` of) ``ids``."""
    ids = ids[:max_chars] if max_chars else ids
    xs, ys = eval_windows(ids, run.cfg.batch, run.cfg.seq_len)
    params = parallel.to_host(run.mesh, params)
    return float(run.evaluate(params, jnp.asarray(xs), jnp.asarray(ys)))


def _sample(run: CharRun, params, step: int, length: int) -> str:
    cfg, vocab = run.cfg, run.data.vocab
    prime = cfg.sample_prime or vocab.decode(run.data.train[:1])
    key = jax.random.fold_in(run.keys[2], step)
    params = parallel.to_host(run.mesh, params)
    return prime + sample_text(run.spec, params, vocab, prime, key, length=length,
                               temperature=cfg.sample_temperature)


def _row(run: CharRun, state, acc, elapsed: float, rate: float) -> dict:
    k, n = run.sched.steps_per_epoch, int(acc.steps)
    step = int(state.step)
    return {"step": step, "epoch": step / k,
            "chars": step * run.cfg.seq_len * run.cfg.batch,
            "train_loss": float(acc.loss_sum) / n, "smooth_loss": float(state.smooth),
            "grad_norm": float(acc.grad_norm_sum) / n, "val_loss": "",
            "elapsed_s": round(elapsed, 3), "chars_per_s": round(rate)}


def _diverged(run: CharRun, acc, first_loss, last_ckpt: int) -> DivergenceError:
    """The error (and ``summary.json``) for a chunk with a bad step (``train.diverged``)."""
    step, loss, first = int(acc.bad_step) + 1, float(acc.bad_loss), float(first_loss)
    latest, lr = ckpt_path(run.out, "latest"), run.cfg.learning_rate
    runs.write_json(run.out / "summary.json", {
        "status": "diverged", "diverged_at_step": step, "loss": loss, "first_loss": first,
        "last_good_checkpoint": str(latest), "checkpoint_step": last_ckpt})
    return DivergenceError(
        f"training diverged at step {step}: loss {loss:.4g} nats/char (first loss {first:.4g}, "
        f"limit {run.cfg.divergence_factor:g}x or non-finite); stopped without saving the bad "
        f"state; the last good checkpoint is {latest} (step {last_ckpt}). Start a new run with "
        f"a lower learning rate (e.g. --learning_rate={lr / 10:g}) or harder clipping and "
        f"another --out (--resume keeps this run's config)")


def _make_on_chunk(run: CharRun, log: dict, bar, last: dict, *, t0: float, quiet: bool,
                   stop_request=None):
    """``train.run_chunks``'s callback: divergence check, metrics row, evaluation + sample +
    checkpoints at ``eval_every`` and the last step, outputs, progress bar; then it asks the
    loop to stop if ``stop_request`` (``failures.deferred_signals``) caught a signal.

    ``last`` records the newest chunk's ``state`` and ``step`` (before anything is logged) and
    the newest checkpointed step ``ckpt``.
    """
    cfg, start, elapsed0 = run.cfg, last["step"], log["elapsed_s"]
    total, chars = cfg.epochs * run.sched.steps_per_epoch, cfg.seq_len * cfg.batch

    def on_chunk(new, acc, a: int, b: int, seconds: float) -> None:
        last["state"], last["step"] = new, b
        last["train_s"] += seconds
        if log.get("train_s") is not None:  # None: resumed from a checkpoint that lacks it
            log["train_s"] += seconds
        if int(acc.bad_step) >= 0:
            raise _diverged(run, acc, new.first_loss, last["ckpt"])
        row = _row(run, new, acc, elapsed0 + time.perf_counter() - t0, (b - a) * chars / seconds)
        log["history"].append(row)
        if b % cfg.eval_every == 0 or b == total:
            _eval_and_save(run, new, log, row)
            last["ckpt"] = b
            if not quiet:
                bar.write(_line(row))
        _write_outputs(run, log)
        bar.update(b - start, rate_count=(b - start) * chars, rate_seconds=last["train_s"],
                   loss=row["smooth_loss"])
        return bool(stop_request)

    return on_chunk


def train_loop(run: CharRun, state, log: dict, *, stop: int, max_seconds: float = 0.0,
               quiet: bool = False):
    """Runs chunks (``train.run_chunks``) until ``stop`` steps, ``max_seconds``, SIGINT (Ctrl-C)
    or SIGTERM. A signal lets the step in flight finish with its row, evaluation and checkpoint
    (``failures.deferred_signals``) before the loop stops.

    Returns ``(state, log, reason, signum)`` (``signum``: the signal that stopped it, or None);
    the latest checkpoint then holds ``state``, the state of
    the last row in the metrics history (a chunk interrupted before its row was written is
    dropped). Validation, samples and checkpoints happen at multiples of ``eval_every`` and at
    the run's last step (``epochs`` epochs), never at an early stop, so stopping and resuming
    leaves the metrics unchanged.
    """
    cfg, sched = run.cfg, run.sched
    data = parallel.place_data(run.mesh, run.data.train if sched.batching == "random"
                               else make_streams(run.data.train, cfg.batch, cfg.seq_len),
                               sched.batching)
    start = int(state.step)
    if start < stop and hasattr(run.run_chunk, "lower"):  # compile ahead of time, so no
        # chunk's rate includes it (a wrapped, non-jit run_chunk compiles on its first call)
        with compiling("the training step", enabled=not quiet) as timing:
            run.run_chunk.lower(state, stop, data).compile()
        log["compile_s"] = (log.get("compile_s") or 0.0) + timing["seconds"]
    t0, elapsed0 = time.perf_counter(), log["elapsed_s"]
    last = {"state": state, "step": start, "ckpt": start, "train_s": 0.0}
    with Progress(stop - start, unit="step", rate_unit="char") as bar, \
            deferred_signals() as request:
        on_chunk = _make_on_chunk(run, log, bar, last, t0=t0, quiet=quiet, stop_request=request)
        done = train.run_chunks(lambda st, a, b: run.run_chunk(st, b, data), state, start=start,
                                stop=stop, every=cfg.log_every, max_seconds=max_seconds,
                                on_chunk=on_chunk)
        logged = bool(log["history"]) and log["history"][-1]["step"] == last["step"]
        state, step = (last["state"], last["step"]) if logged else (done.state, done.step)
        reason = "interrupted" if request else done.reason
        if reason == "completed" and step < cfg.epochs * sched.steps_per_epoch:
            reason = "stopped"
        log["elapsed_s"] = elapsed0 + (time.perf_counter() - t0)
        if last["ckpt"] != step:
            save_checkpoint(run, "latest", state, log)
    return state, log, reason, request.signum


def _eval_and_save(run: CharRun, state, log: dict, row: dict) -> None:
    val = evaluate(run, state.params, run.data.val, run.cfg.val_chars)
    row["val_loss"] = val
    log["samples"].append({"step": row["step"], "epoch": row["epoch"],
                           "text": _sample(run, state.params, row["step"],
                                           run.cfg.sample_length)})
    log["elapsed_s"] = row["elapsed_s"]
    if log["best_val"] is None or val < log["best_val"]:
        log["best_val"], log["best_step"] = val, row["step"]
        save_checkpoint(run, "best", state, log)
    save_checkpoint(run, "latest", state, log)


def _line(row: dict) -> str:
    return (f"{multihost.tag()}step {row['step']} (epoch {row['epoch']:.2f}): train {row['train_loss']:.4f}, "
            f"smoothed {row['smooth_loss']:.4f}, val {row['val_loss']:.4f} nats/char "
            f"({row['val_loss'] / math.log(2):.3f} bits), {row['chars_per_s']:,} chars/s")


def _overall_rate(run: CharRun, state, log: dict) -> float | None:
    """Characters per second of training: chars trained over the seconds the training chunks
    took (compilation, evaluation, sampling, checkpoints excluded, as in every metrics row and
    the progress bar). A run resumed from a checkpoint written before ``train_s`` was kept
    reports None."""
    seconds = log.get("train_s")
    if not seconds:
        return None
    return round(int(state.step) * run.cfg.seq_len * run.cfg.batch / seconds)


def _compilations(run: CharRun) -> int | None:
    """Compilations of the train chunk; when this process trained nothing (a finished run
    resumed), the count the run's previous ``summary.json`` recorded."""
    n = run.run_chunk._cache_size()
    if n:
        return n
    try:
        return json.loads((run.out / "summary.json").read_text())["train_step_compilations"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def finish(run: CharRun, state, log: dict, reason: str) -> dict:
    """Final evaluation on the whole validation (and test) text, plots, ``summary.json``."""
    cfg = run.cfg
    val = evaluate(run, state.params, run.data.val)
    test = (evaluate(run, state.params, run.data.test)
            if len(run.data.test) > cfg.seq_len else None)
    hist = log["history"]
    summary = {
        "status": reason, "steps": int(state.step), "epochs": int(state.step) /
        run.sched.steps_per_epoch, "chars_trained": int(state.step) * cfg.seq_len * cfg.batch,
        "train_loss_last_interval": hist[-1]["train_loss"] if hist else None,
        "smooth_loss": float(state.smooth), "val_loss": val, "val_bits_per_char":
        val / math.log(2), "best_val_loss": log["best_val"], "best_step": log["best_step"],
        "test_loss": test, "train_wall_s": log["elapsed_s"], "compile_s": log.get("compile_s"),
        "train_s": log.get("train_s"),
        "chars_per_s": _overall_rate(run, state, log), "chars_per_s_chunks_median":
        float(np.median([r["chars_per_s"] for r in hist])) if hist else None,
        "train_step_compilations": _compilations(run), "vocab_size": run.data.vocab.size,
        "devices": run.mesh.size if run.mesh is not None else 1,
        "sample": _sample(run, state.params, int(state.step), cfg.sample_length)}
    runs.write_json(run.out / "summary.json", summary)
    if hist:
        title = (f"{run.out.name}: {cfg.layers}x{cfg.cell.upper()} {cfg.hidden}, "
                 f"T={cfg.seq_len}, B={cfg.batch}, {cfg.optimizer} {cfg.learning_rate:g}")
        plotting.save(plots_char.loss_curves(hist, title=title), run.out / "loss.png")
    return summary
