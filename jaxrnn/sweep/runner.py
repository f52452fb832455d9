"""Ablation sweeps: many runs of a task as one vmapped, jitted and sharded program per group.

``run_sweep(spec, out)`` expands a spec (``jaxrnn.sweep.spec``) into runs, groups them into
programs (runs that differ only in traced hyperparameters, initialisers and seeds share one;
see ``jaxrnn.sweep.contract``), and runs each program over all its runs at once, as
``jit(vmap(program.train))(params (R, ...), hp (R,), keys (R, 2))`` cut into its chunks::

    carry = vmap(start)(params, hp, keys); carry, m_c = vmap(step)(carry, hp, keys, c) ...

with the run axis R sharded over every device (``jax.sharding.Mesh`` with one axis ``"runs"``,
``NamedSharding(mesh, P("runs"))``), padded to a multiple of the device count by repeating the
last run. The same code runs on 1 CPU, 8 GPUs or several hosts (call
``jax.distributed.initialize()`` first on each host, or ``jaxrnn sweep --distributed``; only
process 0 writes files).

Each finished program is saved at once under ``out/programs/`` (``<pid>.npz`` outputs, then
``<pid>.json`` metadata, which marks it complete), so a stopped sweep resumed with
``resume=True`` recomputes nothing that finished (a sweep directory written before the rename
keeps its finished programs in ``cells/``; they are read and resumed from there). Inside a
program, its state after each chunk is saved in ``<pid>.ckpt`` (``jaxrnn.sweep.chunked``; kept
at the end: every run's final params and optimiser state), so a program stopped midway (crash,
Ctrl-C, SIGTERM, ``max_chunks``) resumes from its last finished chunk with an uninterrupted
run's bits. ``out``
holds ``spec.json``, ``sweep.json`` (versions, device kind, spec digest), ``configs.json`` (every
run's config and hash), ``results.csv`` (one row per run), and the report of
``jaxrnn.sweep.report``.
"""
from __future__ import annotations

import io
import json
import time
from pathlib import Path

import jax
import numpy as np

from jaxrnn import train
from jaxrnn.io import runs as runs_io
from jaxrnn.io.config import config_hash, to_dict
from jaxrnn.sweep.chunked import run_chunked, shard_runs, to_host
from jaxrnn.sweep.contract import get_task, stack_trees
from jaxrnn.sweep.spec import Spec, expand, group_programs, spec_from_dict


def run_sharded(fn, args, devices=None):
    """``jit(vmap(fn))(*args)`` with the leading (run) axis of every arg sharded over devices.

    Args:
      fn: a pure function of one run's arguments.
      args: a tuple of pytrees of numpy arrays, every leaf (R, ...).
      devices: the devices to use (default all, ``jax.devices()``, every host's).
    Returns: ``(outputs, {"compile_s", "run_s", "devices", "padded_to"})``: numpy pytree (R, ...).
    """
    R = len(jax.tree_util.tree_leaves(args)[0])
    sharding, n, put = shard_runs(devices, R)
    args = put(args)
    jitted = jax.jit(jax.vmap(fn), in_shardings=sharding, out_shardings=sharding)
    t0 = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    t1 = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    t2 = time.perf_counter()
    return to_host(out, R), {"compile_s": t1 - t0, "run_s": t2 - t1,
                             "devices": len(devices or jax.devices()), "padded_to": n}


def init_params(task, program, runs: list):
    """Every run's initial params, (R, ...) leaves: one ``program.init`` per init setting."""
    by_init: dict = {}
    for pos, r in enumerate(runs):
        key = json.dumps({f: getattr(r.config, f) for f in task.init_only}, sort_keys=True)
        by_init.setdefault(key, []).append(pos)
    parts, order = [], []
    for positions in by_init.values():
        first = runs[positions[0]].config
        parts.append(program.init(first, [runs[p].seed for p in positions]))
        order.extend(positions)
    stacked = jax.tree_util.tree_map(lambda *xs: np.concatenate(xs), *parts)
    inverse = np.argsort(np.asarray(order))
    return jax.tree_util.tree_map(lambda a: a[inverse], stacked)


def run_program(task, runs: list, devices=None, *, ckpt=None, meta=None, max_chunks: int = 0):
    """Trains every run of one program together, chunk by chunk (``sweep.chunked``: saved to
    and resumed from ``ckpt`` if given, stopped after ``max_chunks`` if > 0); returns
    ``(outputs, or None if stopped, timing, axes)``."""
    program = task.make_program(runs[0].config)
    params = init_params(task, program, runs)
    hp = stack_trees([program.hparams(r.config) for r in runs])
    keys = np.stack([np.asarray(jax.random.PRNGKey(r.seed)) for r in runs])
    outputs, timing = run_chunked(program.chunks, (params, hp, keys), devices, ckpt=ckpt,
                                  meta=meta, max_chunks=max_chunks)
    return outputs, timing, program.axes


def _writer() -> bool:
    return jax.process_index() == 0


def prepare_dir(out, spec: Spec, runs: list, resume: bool, spec_path=None) -> Path:
    """Creates ``out`` with spec.json, sweep.json and configs.json, or checks it for resuming.

    Raises:
      FileExistsError: ``out`` holds a sweep and ``resume`` is False.
      ValueError: resuming with a spec that differs from the stored one.
    """
    out = Path(out)
    if (out / "spec.json").exists():
        if not resume:
            raise FileExistsError(f"{out} already holds a sweep (spec.json); pass --resume to "
                                  f"continue it, or choose another --out")
        stored = json.loads((out / "sweep.json").read_text())["spec_digest"]
        if stored != spec.digest() and _stored_spec_digest(out) != spec.digest():
            raise ValueError(f"the spec differs from the one {out} was started with (digest "
                             f"{stored} vs {spec.digest()}); resume with the same spec, or use "
                             f"another --out")
        return out
    if _writer():
        out.mkdir(parents=True, exist_ok=True)
        runs_io.write_json(out / "spec.json", spec.to_json())
        runs_io.write_json(out / "configs.json", [
            {"run": r.index, "config_hash": config_hash(r.config), "config": to_dict(r.config)}
            for r in runs])
        runs_io.write_json(out / "sweep.json", {
            "spec_digest": spec.digest(), "spec_path": str(spec_path or out / "spec.json"),
            "versions": runs_io.versions()})
    return out


def _stored_spec_digest(out: Path) -> str | None:
    """The digest of ``out``'s spec.json read afresh (old field names mapped by ``RENAMED``), so a
    sweep started before a field was renamed resumes; None if it no longer loads."""
    try:
        return spec_from_dict(json.loads((out / "spec.json").read_text())).digest()
    except (ValueError, TypeError):
        return None


def program_paths(out, pid: str):
    """(npz, json) paths of a program's saved outputs and metadata."""
    return runs_io.program_file(out, pid, ".npz"), runs_io.program_file(out, pid, ".json")


def chunk_checkpoint(out, pid: str) -> Path:
    """The file holding a program's state (carry and metrics, ``sweep.chunked``) after its last
    finished chunk: final params and optimiser state of every run once it is done."""
    return runs_io.program_file(out, pid, ".ckpt")


def is_done(out, pid: str) -> bool:
    """True when the program's metadata (written last) exists."""
    npz, meta = program_paths(out, pid)
    return npz.exists() and meta.exists()


def save_program(out, group, outputs: dict, timing: dict, axes: dict) -> None:
    """Writes the program's outputs (npz) and then its metadata (json), both atomically."""
    npz, meta = program_paths(out, group.pid)
    buf = io.BytesIO()
    np.savez(buf, run_index=np.array([r.index for r in group.runs]), **outputs,
             **{f"axis:{k}": np.asarray(v) for k, v in axes.items() if not k.endswith("label")})
    runs_io.atomic_write_bytes(npz, buf.getvalue())
    runs_io.write_json(meta, {
        "pid": group.pid, "static": group.static, "runs": [r.index for r in group.runs],
        "labels": {k: v for k, v in axes.items() if k.endswith("label")},
        **timing, "versions": runs_io.versions()})


def load_program(out, pid: str):
    """``(outputs dict of numpy arrays, metadata dict)`` of a finished program."""
    npz, meta = program_paths(out, pid)
    with np.load(npz) as f:
        outputs = {k: f[k] for k in f.files}
    return outputs, json.loads(meta.read_text())


def collect_rows(out, spec: Spec, runs: list, groups: list) -> list:
    """results.csv rows (one per run of every finished program), in run order; a diverged run
    (``_diverged``) is kept, marked ``diverged`` = 1."""
    task, rows = get_task(spec.task), {}
    for g in groups:
        if not is_done(out, g.pid):
            continue
        outputs, meta = load_program(out, g.pid)
        for i, idx in enumerate(outputs["run_index"]):
            r = runs[int(idx)]
            row = {"run": r.index, "program": g.pid, **r.point, "seed": r.seed,
                   "config_hash": config_hash(r.config)}
            row.update({k.split(":", 1)[1]: float(v[i]) for k, v in outputs.items()
                        if k.startswith("final:")})
            row["diverged"] = _diverged(task, r.config, outputs, i)
            row.update({"program_runs": len(g.runs), "compile_s": round(meta["compile_s"], 3),
                        "run_s": round(meta["run_s"], 3)})
            rows[r.index] = row
    return [rows[i] for i in sorted(rows)]


def _diverged(task, cfg, outputs: dict, i: int) -> int:
    """1 if run ``i``'s loss curve breaks the one divergence rule (``train.diverged``: a point
    non-finite or above the config's ``divergence_factor``, else ``DIVERGENCE_FACTOR``, times
    the curve's first point, at init), else 0; 0 for a task with no ``loss_curve``."""
    curve = outputs.get(f"curve:{task.loss_curve}")
    if curve is None:
        return 0
    factor = getattr(cfg, "divergence_factor", train.DIVERGENCE_FACTOR)
    return int(np.any(np.asarray(train.diverged(curve[i][1:], curve[i][0], factor))))


def run_sweep(spec: Spec, out, *, resume: bool = False, devices=None, max_programs: int = 0,
              max_chunks: int = 0, report: bool = True, log=print, spec_path=None) -> Path:
    """Runs (or resumes) a sweep into ``out`` (module docstring); returns ``out``.

    Args:
      spec: from ``load_spec`` / ``spec_from_dict``.
      resume: continue a sweep in ``out`` (finished programs are not recomputed).
      devices: devices to shard the run axis over (default all).
      max_programs: stop after computing this many programs (0: all); resume later.
      max_chunks: stop after running this many chunks in all (0: all); resume later from the
        last finished chunk (a program's state is saved after each, ``sweep.chunked``).
      report: write results.csv's report (tables and figures) at the end.
      log: where progress lines go (None: silent).
      spec_path: the spec file, for the command shown in the report.
    """
    log = log or (lambda *a, **k: None)
    task = get_task(spec.task)
    runs = expand(spec)
    groups = group_programs(spec, runs)
    out = prepare_dir(out, spec, runs, resume, spec_path)
    log(f"sweep {spec.name}: {len(runs)} runs in {len(groups)} program(s) on "
        f"{len(devices or jax.devices())} device(s)")
    computed = chunks = 0
    for i, g in enumerate(groups, 1):
        if is_done(out, g.pid):
            log(f"[{i}/{len(groups)}] {g.pid}: done earlier, skipped")
            continue
        if max_programs and computed >= max_programs:
            log(f"stopping after {computed} program(s) (max_programs); resume to finish")
            return out
        if max_chunks and chunks >= max_chunks:
            log(f"stopping after {chunks} chunk(s) (max_chunks); resume to finish")
            return out
        log(f"[{i}/{len(groups)}] {g.pid}: compiling and running {len(g.runs)} runs…")
        ckpt = chunk_checkpoint(out, g.pid)
        outputs, timing, axes = run_program(
            task, g.runs, devices, ckpt=ckpt, meta={"pid": g.pid, "runs": [r.index for r in
                                                                           g.runs]},
            max_chunks=max_chunks and max_chunks - chunks)
        chunks += timing["chunks_run"]
        if outputs is None:
            log(f"stopping after {chunks} chunk(s) (max_chunks); resume to finish")
            return out
        computed += 1
        if _writer():
            save_program(out, g, outputs, timing, axes)
            runs_io.write_csv(out / "results.csv", collect_rows(out, spec, runs, groups))
        resumed = f" (resumed after chunk {timing['resumed_from']})" * bool(timing["resumed_from"])
        log(f"[{i}/{len(groups)}] {g.pid}: {len(g.runs)} runs{resumed}, compile "
            f"{timing['compile_s']:.1f} s, run {timing['run_s']:.1f} s")
    if _writer():
        runs_io.write_csv(out / "results.csv", collect_rows(out, spec, runs, groups))
        if report:
            from jaxrnn.sweep.report import write_report

            write_report(out)
    return out

