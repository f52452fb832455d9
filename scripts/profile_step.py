"""Where a jaxrnn training step spends its time: XLA's per-operation trace, summed by name.

    python scripts/profile_step.py --cell lstm --size medium

Runs scripts/bench.py's training step (forward, backward, Adam) under ``jax.profiler.trace``,
reads the trace back with ``jax.profiler.ProfileData`` and prints, per compiled operation
(fusion, dot, copy, ...), the milliseconds per step it took and how many times it ran per
step. Operations that run T times per step are inside the scan's loops. The trace's own
overhead inflates the total, so read the shares, not the absolute times.
"""
from __future__ import annotations

import argparse
import collections
import glob
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
import bench_peers  # noqa: E402

SKIP = ("ThunkExecutor", "Await")


def op_times(trace_dir, n_steps):
    """{op name: (ms per step, calls per step)} from the trace's XLA thread lines."""
    from jax.profiler import ProfileData

    path = glob.glob(f"{trace_dir}/**/*.xplane.pb", recursive=True)[0]
    total, calls = collections.Counter(), collections.Counter()
    for plane in ProfileData.from_file(path).planes:
        for line in plane.lines:
            if line.name == "python":
                continue
            for event in line.events:
                if not any(s in event.name for s in SKIP):
                    total[event.name] += event.duration_ns
                    calls[event.name] += 1
    return {k: (v / 1e6 / n_steps, calls[k] / n_steps) for k, v in total.most_common()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cell", default="lstm", choices=list(bench.GATES))
    p.add_argument("--size", default="medium", choices=list(bench.SIZES))
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--top", type=int, default=20)
    args = p.parse_args(argv)
    from jaxrnn.io.malloc import keep_freed_memory

    keep_freed_memory()
    import jax

    H, B, T = bench.SIZES[args.size]
    step, sync = bench_peers.jaxrnn_step(args.cell, H, T, B, bench.V)
    for _ in range(3):
        step()
    sync()
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp):
            for _ in range(args.steps):
                step()
            sync()
        times = op_times(tmp, args.steps)
    whole = sum(ms for ms, _ in times.values())
    print(f"{args.cell} {args.size} (H {H}, B {B}, T {T}): {whole:.1f} ms of operations per step "
          f"(summed over threads)\n\n| operation | ms/step | share | calls/step |\n|---|---|---|---|")
    for name, (ms, n) in list(times.items())[:args.top]:
        print(f"| {name} | {ms:.2f} | {ms / whole:.0%} | {n:g} |")


if __name__ == "__main__":
    main()
