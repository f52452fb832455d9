"""Sweeps: the vmapped program against numpy per-config training loops, resume, bitwise
reproducibility, and sharded (4 host devices, in a subprocess) against unsharded."""
import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from jaxrnn.cli import main as cli
from jaxrnn.io import runs as runs_io
from jaxrnn.sweep import runner as sweep
from jaxrnn.sweep.spec import expand, group_programs, quick_spec, spec_from_dict
from jaxrnn.sweep.contract import get_task
from jaxrnn.tasks.sine import main as sine
import sine_reference as ref

TINY = {"series": "sine", "n_points": 30, "x_stop": 15.0, "seq_len": 5, "hidden": 4,
        "encoding": "value", "bias": True, "input_init": "normal(0.5)",
        "recurrent_init": "normal(0.4)", "readout_init": "normal(0.5)", "numpy_init_seed": -1,
        "loss": "all_steps", "optimizer": "sgd", "clip": "value", "batch_size": 1,
        "shuffle": False, "epochs": 300, "dtype": "float64", "scan_unroll": 1}
SPEC = {"name": "tiny", "task": "sine", "preset": "vlasov", "base": TINY,
        "grid": {"activation": ["tanh", "sigmoid"], "learning_rate": [0.05, 0.2],
                 "bptt_window": [2, 0], "clip_value": [0.05, 10.0]},
        "seeds": [0, 1, 2], "quick": {"base": {"epochs": 3}, "seeds": [0, 1]}}


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    """The tiny sweep through the command, from a spec file with --quick (3 epochs, 2 seeds),
    stopped by --max-programs 1 on --devices 1 and resumed with --resume: (out, spec, rows
    after the stop, program files' mtimes after the stop, run counts of the resumed programs)."""
    root = tmp_path_factory.mktemp("sweep")
    out, path = root / "tiny", root / "tiny.json"
    path.write_text(json.dumps(SPEC))
    argv = ["sweep", str(path), "--quick", "--out", str(out)]
    spec = quick_spec(spec_from_dict(SPEC))
    assert cli.main(argv + ["--max-programs", "1", "--devices", "1"]) == 0
    first = runs_io.read_csv(out / "results.csv")
    programs = sorted((out / "programs").glob("*.npz"))
    stamp = {p: p.stat().st_mtime_ns for p in programs}
    calls = []
    real = sweep.run_program

    def counting(task, runs, devices=None, **kwargs):
        calls.append(len(runs))
        return real(task, runs, devices, **kwargs)

    sweep.run_program = counting
    try:
        assert cli.main(argv + ["--resume"]) == 0
    finally:
        sweep.run_program = real
    return out, spec, first, stamp, calls


def test_resume_recomputes_only_unfinished_programs(tiny_sweep):
    out, spec, first, stamp, calls = tiny_sweep
    groups = group_programs(spec, expand(spec))
    assert len(groups) == 2  # activation changes the program; the rest is batched
    assert len(first) == 16 and {r["activation"] for r in first} == {"tanh"}
    assert calls == [16]  # the resumed sweep ran only the sigmoid program
    configs = json.loads((out / "configs.json").read_text())
    assert {(c["config"]["epochs"], c["config"]["seed"]) for c in configs} == {(3, 0), (3, 1)}
    assert len(stamp) == 1 and {r["program"] for r in first} == {groups[0].pid}
    assert sweep.load_program(out, groups[0].pid)[1]["devices"] == 1  # run with --devices 1
    assert all(p.stat().st_mtime_ns == t for p, t in stamp.items())  # finished program untouched
    rows = runs_io.read_csv(out / "results.csv")
    assert [r["run"] for r in rows] == list(range(32))
    assert (out / "summary.md").exists() and (out / "final_val_rmse.png").exists()
    with pytest.raises(FileExistsError, match="--resume"):
        sweep.run_sweep(spec, out, log=None)
    changed = spec_from_dict({**SPEC, "seeds": [0, 1, 2]})
    with pytest.raises(ValueError, match="spec differs"):
        sweep.run_sweep(changed, out, resume=True, log=None)


def test_a_sweep_saved_before_the_rename_resumes_and_reports(tiny_sweep, tmp_path, monkeypatch):
    """An old sweep directory keeps its programs in cells/: resumed without recomputing."""
    import shutil

    out, spec = tmp_path / "old", tiny_sweep[1]
    shutil.copytree(tiny_sweep[0], out)
    (out / "programs").rename(out / "cells")
    monkeypatch.setattr(sweep, "run_program", lambda *a, **k: pytest.fail("recomputed"))
    sweep.run_sweep(spec, out, resume=True, log=None, report=False)
    assert not (out / "programs").exists()
    assert runs_io.read_csv(out / "results.csv") == runs_io.read_csv(tiny_sweep[0] / "results.csv")
    (out / "summary.md").unlink()
    assert cli.main(["sweep", "--report", str(out)]) == 0  # only redraws: nothing is trained
    report = (out / "summary.md").read_text()
    assert "32 runs in 2 program(s)" in report
    tables = report.split("## Figures")[0].split("\n|", 1)[1]  # the same tables as the sweep's
    assert tables == (tiny_sweep[0] / "summary.md").read_text().split("## Figures")[0].split(
        "\n|", 1)[1]


def test_a_spec_written_before_the_seq_len_rename_resumes(tiny_sweep, tmp_path):
    """spec.json and its digest from before ``window`` became ``seq_len``: --resume accepts the
    directory (its spec maps to the same spec); a spec that really differs is still refused."""
    import dataclasses
    import shutil

    out, spec = tmp_path / "old", tiny_sweep[1]
    shutil.copytree(tiny_sweep[0], out)
    old = dataclasses.replace(spec, base={("window" if k == "seq_len" else k): v
                                          for k, v in spec.base.items()})
    runs_io.write_json(out / "spec.json", old.to_json())
    meta = json.loads((out / "sweep.json").read_text())
    assert old.digest() != spec.digest()
    runs_io.write_json(out / "sweep.json", {**meta, "spec_digest": old.digest()})
    sweep.run_sweep(spec, out, resume=True, log=None, report=False)
    assert runs_io.read_csv(out / "results.csv") == runs_io.read_csv(tiny_sweep[0] / "results.csv")
    other = spec_from_dict({**SPEC, "seeds": [0, 1, 2]})
    with pytest.raises(ValueError, match="spec differs"):
        sweep.run_sweep(other, out, resume=True, log=None, report=False)


def test_a_program_stopped_after_a_chunk_resumes_with_the_same_bits(tiny_sweep, tmp_path):
    """The tiny sweep's first program stopped after its first of 3 chunks (max_chunks) and
    resumed: it continues from chunk 1 (not from the start) and every output, and the final
    params and optimiser state of every run, equal the uninterrupted program's bit for bit."""
    from jaxrnn.io import checkpoint

    ref_dir, spec = tiny_sweep[:2]
    group = group_programs(spec, expand(spec))[0]
    pid, task = group.pid, get_task("sine")
    out, one = tmp_path / "stopped", jax.devices()[:1]  # the reference ran on --devices 1
    sweep.run_sweep(spec, out, devices=one, max_chunks=1, log=None, report=False)
    ckpt = sweep.chunk_checkpoint(out, pid)
    assert not sweep.is_done(out, pid) and checkpoint.load(ckpt)[1]["done"] == 1
    sweep.run_sweep(spec, out, resume=True, devices=one, max_programs=1, log=None, report=False)
    (outputs, meta), (ref, _) = (sweep.load_program(d, pid) for d in (out, ref_dir))
    assert (meta["resumed_from"], meta["chunks_run"]) == (1, 2)
    assert sorted(outputs) == sorted(ref) and len(ref) > 10
    for name in ref:
        assert np.array_equal(outputs[name], ref[name], equal_nan=True), name
    (state, _), (ref_state, ref_meta) = (checkpoint.load(sweep.chunk_checkpoint(d, pid))
                                         for d in (out, ref_dir))
    assert ref_meta["done"] == 3 and sorted(state) == sorted(ref_state)
    for name in ref_state:
        assert np.array_equal(state[name], ref_state[name], equal_nan=True), name
    init = sweep.init_params(task, task.make_program(group.runs[0].config), group.runs)
    assert state["carry/params/cell/W_hh"].shape == (16, 4, 4)
    assert not np.array_equal(state["carry/params/cell/W_hh"], init["cell"]["W_hh"])  # trained


def _toy_chunks():
    """4 chunks of x <- x * hp + c + key[0], one metric (sum x) per chunk: cheap to compile."""
    import jax.numpy as jnp

    from jaxrnn.sweep.contract import Chunks

    def step(carry, hp, key, c):
        x = carry["x"] * hp + c + key[0]
        return {"x": x, "n": carry["n"] + 1}, {"sum": jnp.sum(x)}

    return Chunks(4, lambda p, hp, key: {"x": p, "n": jnp.zeros((), jnp.int32)}, step,
                  lambda carry, hp, key, m: {"final:x": carry["x"], "curve:sum": m["sum"],
                                             "final:n": carry["n"]})


def test_a_crash_mid_program_keeps_the_last_chunk_and_a_foreign_checkpoint_is_refused(
        tmp_path, monkeypatch):
    """A crash (here Ctrl-C) while chunk 2's state is written leaves chunk 1's checkpoint whole;
    resuming runs chunks 2-4 only and ends as an uninterrupted run; a checkpoint of another
    program is refused, naming what differs."""
    from jaxrnn.io import checkpoint
    from jaxrnn.sweep.chunked import run_chunked

    args = (np.arange(6.0).reshape(3, 2), np.array([0.5, 1.0, 2.0]),
            np.arange(6, dtype=np.uint32).reshape(3, 2))
    whole, _ = run_chunked(_toy_chunks(), args)
    ckpt, meta, real = tmp_path / "p.ckpt", {"pid": "p", "runs": [0, 1, 2]}, checkpoint.save

    def crash_on_second(path, tree, m):
        if m["done"] == 2:
            raise KeyboardInterrupt
        return real(path, tree, m)

    monkeypatch.setattr(checkpoint, "save", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        run_chunked(_toy_chunks(), args, ckpt=ckpt, meta=meta)
    monkeypatch.undo()
    assert checkpoint.load(ckpt)[1]["done"] == 1
    with pytest.raises(ValueError, match=r"different run .*runs: checkpoint has \[0, 1, 2\]"):
        run_chunked(_toy_chunks(), args, ckpt=ckpt, meta={**meta, "runs": [3, 4, 5]})
    resumed, timing = run_chunked(_toy_chunks(), args, ckpt=ckpt, meta=meta)
    assert (timing["resumed_from"], timing["chunks_run"]) == (1, 3)
    assert whole["final:n"].tolist() == [4, 4, 4]
    x = args[0].copy()
    for c in range(4):  # numpy: the same recursion
        x = x * args[1][:, None] + c + args[2][:, :1]
    np.testing.assert_array_equal(whole["final:x"], x)
    for name in whole:
        assert np.array_equal(resumed[name], whole[name]), name


def _np(tree):
    return {k: np.asarray(v, np.float64) for d in tree.values() for k, v in d.items()}


def test_vmapped_sweep_equals_numpy_loops_per_config(tiny_sweep):
    """Every run's learning curve and gradient bias equal a numpy per-sample SGD loop's."""
    out, spec, *_ = tiny_sweep
    runs = expand(spec)
    task = get_task("sine")
    rows = {int(r["run"]): r for r in runs_io.read_csv(out / "results.csv")}
    for g in group_programs(spec, runs):
        outputs, _ = sweep.load_program(out, g.pid)
        program = task.make_program(g.runs[0].config)
        params0 = sweep.init_params(task, program, g.runs)
        for i, run in enumerate(g.runs):
            cfg = run.config
            data = sine.build_data(cfg)
            sp = data.split
            p = {k: v[i] for k, v in _np(params0).items()}
            losses = []
            for _ in range(cfg.epochs):
                p = ref.per_sample_sgd(p, sp.x_train, sp.y_train, epochs=1,
                                       lr=cfg.learning_rate, activation=cfg.activation,
                                       name=cfg.loss, window=cfg.bptt_window,
                                       clip_value=cfg.clip_value)
                losses.append([np.mean([ref.loss(p, x, y, cfg.activation, cfg.loss)
                                        for x, y in zip(X, Y)])
                               for X, Y in ((sp.x_train, sp.y_train), (sp.x_test, sp.y_test))])
            losses = np.array(losses)
            np.testing.assert_allclose(outputs["curve:train_loss"][i, 1:], losses[:, 0],
                                       rtol=1e-10, atol=1e-13)
            np.testing.assert_allclose(outputs["curve:val_loss"][i, 1:], losses[:, 1],
                                       rtol=1e-10, atol=1e-13)
            g_k, g_full = (sum(_flat_cell(ref.grads(p, x, y, cfg.activation, cfg.loss,
                                                    window=w))
                               for x, y in zip(sp.x_train, sp.y_train))
                           for w in (cfg.bptt_window, 0))
            cos = g_k @ g_full / (np.linalg.norm(g_k) * np.linalg.norm(g_full))
            rel = np.linalg.norm(g_k - g_full) / np.linalg.norm(g_full)
            np.testing.assert_allclose(rows[run.index]["bias_cos_final"], cos, rtol=1e-9)
            np.testing.assert_allclose(rows[run.index]["bias_rel_final"], rel, rtol=1e-8,
                                       atol=1e-14)
    assert any(r["bias_rel_final"] > 1e-3 for r in rows.values())  # truncation is visible


def _flat_cell(g):
    return np.concatenate([np.ravel(g[k]) for k in ("W_xh", "W_hh", "b_h")])


SHARDED = textwrap.dedent("""
    import json, sys
    import jax
    import numpy as np
    from jaxrnn.sweep import runner as sweep
    from jaxrnn.sweep.spec import expand, group_programs, spec_from_dict
    from jaxrnn.sweep.contract import get_task
    from jaxrnn.cli import main as cli
    # before any computation: jax.distributed refuses to start once a backend is up
    refused = cli.main(["sweep", "--task", "memory", "--distributed", "--out", sys.argv[3]])
    spec = spec_from_dict(json.loads(sys.argv[1]))
    g = group_programs(spec, expand(spec))[0]
    task = get_task("sine")
    sharded, t4, _ = sweep.run_program(task, g.runs)
    single, t1, _ = sweep.run_program(task, g.runs, devices=jax.devices()[:1])
    padded, tp = sweep.run_sharded(lambda x: {"y": 2.0 * x}, (np.arange(5.0),))
    np.savez(sys.argv[2], **{"4:" + k: v for k, v in sharded.items()},
             **{"1:" + k: v for k, v in single.items()})
    print(json.dumps({"refused": refused,
                      "devices": [t4["devices"], t1["devices"], tp["devices"]],
                      "padded": [t4["padded_to"], tp["padded_to"]],
                      "padded_y": padded["y"].tolist()}))
""")


def test_sharded_equals_unsharded_and_runs_are_bitwise_reproducible(tiny_sweep, tmp_path):
    """In a subprocess with 4 host devices: the first program sharded 4 ways equals it on one
    device; and that single-device run, in another process, repeats the sweep's bits. First,
    in a fresh process (jax.distributed starts only before any computation), ``jaxrnn sweep
    --distributed`` with no coordinator anywhere is refused (exit 2) with the fix named."""
    out, spec, *_ = tiny_sweep
    env = {k: v for k, v in os.environ.items()
           if k != "JAX_COORDINATOR_ADDRESS" and not k.startswith(("SLURM_", "OMPI_"))}
    env.update({"XLA_FLAGS": "--xla_force_host_platform_device_count=4",
                "JAX_PLATFORMS": "cpu", "JAX_ENABLE_X64": "1"})
    path = tmp_path / "out.npz"
    proc = subprocess.run([sys.executable, "-c", SHARDED, json.dumps(spec.to_json()), str(path),
                           str(tmp_path / "distributed")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info == {"refused": 2, "devices": [4, 1, 4], "padded": [16, 8],
                    "padded_y": [0, 2, 4, 6, 8]}
    assert "jaxrnn sweep: error: --distributed found no coordinator" in proc.stderr
    assert "pass --coordinator HOST:PORT --num-processes N --process-id I" in proc.stderr
    assert not (tmp_path / "distributed").exists()
    saved, meta = sweep.load_program(out, group_programs(spec, expand(spec))[0].pid)
    with np.load(path) as f:
        names = [k[2:] for k in f.files if k.startswith("4:")]
        assert "final:val_loss" in names and "curve:val_loss" in names
        for name in names:
            np.testing.assert_allclose(f["4:" + name], f["1:" + name], rtol=1e-12, atol=1e-15,
                                       err_msg=name)
            assert np.array_equal(f["1:" + name], saved[name], equal_nan=True), name
    configs = json.loads((out / "configs.json").read_text())
    assert len({c["config_hash"] for c in configs}) == 32
    versions = json.loads((out / "sweep.json").read_text())["versions"]
    assert {"jax", "jaxlib", "optax", "device_kind"} <= set(meta["versions"]) <= set(versions)
