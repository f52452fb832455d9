"""Benchmark: N seeds of a sine preset as one vmapped program vs N sequential runs of the same code.

Both sides run ``jaxrnn.tasks.sine.sweep``'s training program (without the gradient diagnostics) for
the same configs and seeds: once as ``jit(vmap(train))`` over the N runs (the sweep runner,
``run_sharded``), and once as ``jit(train)`` called N times one after another. Compilation is
timed apart and excluded from the ratio (each side compiles once); both sides' results are
checked to agree. It does this twice: with the preset's ``scan_unroll`` (0: the whole window
unrolled when T <= 16) and with ``scan_unroll=1`` (a rolled loop over time). Usage::

    python scripts/bench_sweep.py                      # 32 seeds of "vlasov", 10 epochs
    python scripts/bench_sweep.py --preset adam-rnn --epochs 20 --seeds 32

Prints one line per side and the ratio (sequential time / vmapped time) from the same run.
"""
from __future__ import annotations

import argparse
import os
import time

import jax
import numpy as np

from jaxrnn.io.config import from_preset
from jaxrnn.io.runs import versions
from jaxrnn.sweep.runner import init_params
from jaxrnn.sweep.spec import SweepRun
from jaxrnn.tasks.sine.sweep import make_program
from jaxrnn.sweep.contract import get_task


def timed(fn, args) -> tuple:
    """(outputs, compile wall s, run wall s, run CPU s) of ``jit(fn)(*args)``."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    out = jax.block_until_ready(compiled(*args))
    return out, compile_s, time.perf_counter() - t0, time.process_time() - c0


def compare(preset: str, n: int, epochs: int, unroll: int) -> float:
    """Times both sides for one setting, prints them, returns the wall-time ratio.

    The sequential side compiles once (the first call's compilation is timed apart) and then
    calls the compiled program for every run.
    """
    task = get_task("sine")
    runs = [SweepRun(s, {}, s, from_preset(task.presets, preset,
                                           {"epochs": epochs, "seed": s, "numpy_init_seed": -1,
                                            "scan_unroll": unroll, "log_every": epochs}))
            for s in range(n)]
    program = make_program(runs[0].config, diagnostics=False)
    params = init_params(task, program, runs)
    hp = {k: np.stack([program.hparams(r.config)[k] for r in runs])
          for k in program.hparams(runs[0].config)}
    keys = np.stack([np.asarray(jax.random.PRNGKey(r.seed)) for r in runs])
    vmapped, v_compile, v_wall, v_cpu = timed(jax.vmap(program.train), (params, hp, keys))
    pick = [jax.tree_util.tree_map(lambda a, i=i: a[i], (params, hp, keys)) for i in range(n)]
    _, s_compile, _, _ = timed(program.train, pick[0])
    compiled = jax.jit(program.train).lower(*pick[0]).compile()
    t0, c0 = time.perf_counter(), time.process_time()
    outs = [jax.block_until_ready(compiled(*p)) for p in pick]
    s_wall, s_cpu = time.perf_counter() - t0, time.process_time() - c0
    sequential = np.array([o["final:val_loss"] for o in outs])
    agree = np.allclose(sequential, vmapped["final:val_loss"], rtol=1e-4, equal_nan=True)
    print(f"{n} runs of {preset!r}, {epochs} epochs, scan_unroll={unroll or 'preset (auto)'}:")
    print(f"  vmapped   : compile {v_compile:.2f} s, run {v_wall:.3f} s wall, {v_cpu:.3f} s CPU")
    print(f"  sequential: compile {s_compile:.2f} s, run {s_wall:.3f} s wall, {s_cpu:.3f} s CPU "
          f"({s_wall / n * 1e3:.1f} ms per run); results agree (rtol 1e-4): {agree}")
    print(f"  speed-up (sequential run / vmapped run): {s_wall / v_wall:.1f}x wall, "
          f"{s_cpu / v_cpu:.1f}x CPU time")
    separate = n * s_compile + s_wall
    print(f"  estimate, not run: {n} separate processes compiling once each (as {n} "
          f"`jaxrnn sine` commands would) take {separate:.0f} s against {v_compile + v_wall:.0f} "
          f"s for one vmapped program: {separate / (v_compile + v_wall):.0f}x")
    return s_wall / v_wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="vlasov")
    parser.add_argument("--seeds", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    v = versions()
    print(f"device: {v['device_count']} x {v['device_kind']} ({v['platform']}), "
          f"{os.cpu_count()} CPU cores, jax {v['jax']}; load average {os.getloadavg()[0]:.1f} "
          f"(the machine may be shared: timings are noisy)")
    for unroll in (0, 1):
        compare(args.preset, args.seeds, args.epochs, unroll)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
