"""Data-parallel step time of one character model on 1, 2, 4 ... devices (``jaxrnn.scale``).

    python scripts/bench_scale.py --host-devices 4 --devices 1,2,4      # forced CPU devices
    python scripts/bench_scale.py --devices 1,2,4,8                     # a multi-GPU machine

Each device count builds the char task's own data-parallel run (``tasks.char.main.make_run``,
the streams and carries split along B, params replicated), compiles the chunk of ``--steps``
train steps once, then times ``--rounds`` chunks and prints a Markdown table: median ms per
step, characters per second, and the speed-up over the first device count. ``--host-devices N``
sets ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` before jax is imported (CPU only:
the forced devices share the machine's cores, so they show the partitioning's overhead, not a
speed-up).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time


def _args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", default="1,2,4", help="device counts, e.g. 1,2,4")
    p.add_argument("--host-devices", type=int, default=0, help="force N CPU devices")
    p.add_argument("--preset", default="char-rnn")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    p.add_argument("--steps", type=int, default=10, help="train steps per timed chunk")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--corpus", default="stdlib", help="offline by default")
    return p.parse_args()


def _time(run, steps: int, rounds: int) -> float:
    """Median seconds per step over ``rounds`` chunks of ``steps`` (after one compiling chunk)."""
    import jax
    import numpy as np

    from jaxrnn.data.text import make_streams
    from jaxrnn.tasks.char import parallel
    from jaxrnn.tasks.char.loop import fresh_state

    cfg = run.cfg
    data = parallel.place_data(run.mesh, np.asarray(make_streams(run.data.train, cfg.batch,
                                                                 cfg.seq_len)), "stream")
    state = fresh_state(run)
    state, _ = jax.block_until_ready(run.run_chunk(state, steps, data))
    times = []
    for r in range(rounds):
        t = time.perf_counter()
        state, _ = jax.block_until_ready(run.run_chunk(state, steps * (r + 2), data))
        times.append((time.perf_counter() - t) / steps)
    return statistics.median(times)


def main() -> int:
    args = _args()
    if args.host_devices:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform"
                                   f"_device_count={args.host_devices}")
    import jax

    from jaxrnn.io.config import from_preset, parse_overrides
    from jaxrnn.tasks.char import main as char

    cfg = from_preset(char.PRESETS, args.preset,
                      parse_overrides([f"--corpus={args.corpus}"] + [f"--{s}" for s in args.set]))
    counts = [int(n) for n in args.devices.split(",")]
    print(f"{args.preset} ({cfg.layers}x{cfg.cell} {cfg.hidden}, T={cfg.seq_len}, B={cfg.batch}"
          f", {cfg.dtype}) on {jax.devices()[0].device_kind} x {jax.device_count()}; "
          f"{args.steps} steps x {args.rounds} rounds\n")
    print("| devices | ms/step | chars/s | speed-up |\n|---|---|---|---|")
    first = None
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            sec = _time(char.make_run(cfg, tmp, n), args.steps, args.rounds)
            first = first or sec
            print(f"| {n} | {1e3 * sec:.2f} | {cfg.seq_len * cfg.batch / sec:,.0f} | "
                  f"{first / sec:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
