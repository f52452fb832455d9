"""jaxrnn against PyTorch and Flax (and numpy for the sine run), all measured in this one run.

    pip install ".[bench]" && python scripts/bench.py --json runs/bench.json

Prints Markdown tables and writes JSON:
1. training throughput (characters/s for a full step: forward, backward, Adam update) for the
   tanh RNN, LSTM and GRU at three sizes, jaxrnn vs PyTorch vs Flax nn.RNN, with ratios;
   jaxrnn and Flax are timed in interleaved rounds so machine noise hits them alike; PyTorch
   right after, in a fresh process (XLA's spinning worker threads would starve it in this one),
   with the machine's thread count and with 1 thread; the ratio uses the faster of the two;
2. each step's share of the matrix-multiply ceiling measured here with a large jitted matmul;
3. compile time of each jaxrnn program and its trace count (must be 1); the RNN uses
   ``unroll(backward="fused")`` (``--rnn-backward scan`` for lax.scan's own transpose);
   (jaxrnn and Flax run with glibc malloc keeping freed memory, as the ``jaxrnn`` command does,
   see jaxrnn/io/malloc.py; ``--malloc default`` turns that off; PyTorch is timed both ways;)
4. peak memory (XLA's buffer assignment for the compiled gradient) over long sequences with and
   without ``jax.checkpoint`` of the step, and the time each takes;
5. the per-sample-SGD "vlasov" sine run against numpy (scripts/bench_sine.py), if present.

FLOPs of one training step, counting the one-hot input product as the dense matmul PyTorch and
Flax do (jaxrnn gathers columns instead, so its share is of the same nominal work):
``F = 3 * 2 * T * B * (G * H * (V + H) + H * V)``, G = 1 (RNN), 4 (LSTM), 3 (GRU); the factor 3
is forward + backward (about twice the forward).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_peers  # noqa: E402

SIZES = {"small": (75, 1, 20), "medium": (256, 32, 64), "large": (512, 64, 100)}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
V = 65


def step_flops(cell, H, B, T):
    return 3 * 2 * T * B * (GATES[cell] * H * (V + H) + H * V)


def calibrate(step, sync, min_time):
    """Steps per timing round so that a round lasts about min_time seconds."""
    for _ in range(2):
        step()
    sync()
    n, elapsed = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        sync()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time / 4 or n >= 4096:
            return max(1, int(n * min_time / max(elapsed, 1e-9)))
        n *= 2


def time_interleaved(runners: dict, rounds: int, min_time: float) -> dict:
    """Median seconds per step of each runner, timed round-robin."""
    counts = {k: calibrate(*r, min_time) for k, r in runners.items()}
    samples = {k: [] for k in runners}
    for _ in range(rounds):
        for k, (step, sync) in runners.items():
            t0 = time.perf_counter()
            for _ in range(counts[k]):
                step()
            sync()
            samples[k].append((time.perf_counter() - t0) / counts[k])
    return {k: statistics.median(v) for k, v in samples.items()}


def matmul_ceiling(n=2048, rounds=10):
    """FLOP/s of a large jitted float32 matmul (2 n^3 FLOPs), median of rounds."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        f(a).block_until_ready()
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / statistics.median(times)


def bench_throughput(args, ceiling):
    rows = []
    for size in args.sizes:
        H, B, T = SIZES[size]
        for cell in args.cells:
            runners = {}
            backward = args.rnn_backward if cell == "rnn" else "scan"
            jr = bench_peers.jaxrnn_step(cell, H, T, B, V, unroll=args.unroll,
                                         backward=backward)
            runners["jaxrnn"] = jr

            if "flax" in args.frameworks:
                runners["flax"] = bench_peers.flax_step(cell, H, T, B, V)
            sec = time_interleaved(runners, args.rounds, args.min_time)
            if "torch" in args.frameworks:
                # In a fresh process (see time_torch_in_subprocess), with the machine's thread
                # count and with 1 thread: OpenMP threads spin at barriers, so on a busy
                # machine 1 thread can win. The ratio uses the fastest (generous to PyTorch).
                # Each also with and without the malloc setting jaxrnn uses (jaxrnn.io.malloc).
                for n in sorted({1, args.threads}):
                    for keep in (False, True):
                        sec[f"torch{n}t" + ("_keep" if keep else "")] = \
                            bench_peers.time_torch_in_subprocess(
                                cell, H, T, B, V, n, args.rounds, args.min_time, keep)
            torch_keys = [k for k in sec if k.startswith("torch")]
            if torch_keys:
                best = min(torch_keys, key=sec.get)
                sec["torch"] = sec[best]
                row = {"torch_threads": {k: T * B / sec[k] for k in torch_keys}}
            else:
                row = {}
            row.update({"cell": cell, "size": size, "H": H, "B": B, "T": T,
                        "compile_s": jr[0].compile_s, "traces": len(jr[0].traces)})
            for k, s in sec.items():
                row[f"{k}_chars_s"] = T * B / s
                row[f"{k}_ceiling"] = step_flops(cell, H, B, T) / s / ceiling
            if "flax" in runners:
                row["flax_compile_s"] = runners["flax"][0].compile_s
            for peer in ("torch", "flax"):
                if peer in sec:
                    row[f"ratio_vs_{peer}"] = sec[peer] / sec["jaxrnn"]
            rows.append(row)
            print(f"  {cell:4s} {size:6s} " + " ".join(
                f"{k}={T * B / s:,.0f}/s" for k, s in sec.items()), flush=True)
            jr = runners = None  # free the donated buffers before the next size
    return rows


def bench_memory(args):
    """Gradient of an LSTM (H 256, B 32) over T steps, plain vs jax.checkpoint of the step."""
    import jax
    import jax.numpy as jnp

    from jaxrnn import cells, model

    H, B = 256, 32
    c = cells.get_cell("lstm")
    params = model.init_model(jax.random.PRNGKey(0), "lstm", V, H, V)
    rows = []
    for T in args.memory_T:
        xs, ys = (jnp.asarray(a) for a in bench_peers.batch(T, B, V))
        row = {"T": T}
        for name, ckpt in (("plain", False), ("checkpoint", True)):
            grad = jax.jit(jax.grad(lambda p: model.sequence_loss(
                c, p, xs, ys, "xent_mean", checkpoint=ckpt)[0]))
            compiled = grad.lower(params).compile()
            mem = compiled.memory_analysis()
            row[f"{name}_MiB"] = (mem.temp_size_in_bytes + mem.output_size_in_bytes) / 2 ** 20
            jax.block_until_ready(compiled(params))
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                jax.block_until_ready(compiled(params))
                times.append(time.perf_counter() - t0)
            row[f"{name}_s"] = statistics.median(times)
        row["memory_ratio"] = row["plain_MiB"] / row["checkpoint_MiB"]
        row["time_overhead"] = row["checkpoint_s"] / row["plain_s"] - 1.0
        rows.append(row)
        print(f"  T={T}: {row['plain_MiB']:.0f} MiB -> {row['checkpoint_MiB']:.0f} MiB "
              f"({row['memory_ratio']:.1f}x), time {row['time_overhead']:+.0%}", flush=True)
    return rows


def bench_sine(args):
    path = Path(__file__).resolve().parent / "bench_sine.py"
    if not path.exists():
        return None
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_sine", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run_benchmark(numpy_epochs=args.sine_numpy_epochs)


def markdown(results) -> str:
    lines = [f"Machine: {results['machine']}; matmul ceiling {results['ceiling_gflops']:.1f} "
             f"GFLOP/s (float32 {results['ceiling_n']}^3 jitted matmul).", "",
             "| cell | size (H, B, T) | jaxrnn chars/s | PyTorch | Flax | jaxrnn/PyTorch | "
             "jaxrnn/Flax | ceiling share jaxrnn / PyTorch / Flax | compile s (jaxrnn / Flax) "
             "| traces |", "|" + "---|" * 10]
    for r in results["throughput"]:
        def get(k, fmt):
            return format(r[k], fmt) if k in r else "-"
        lines.append(
            f"| {r['cell']} | {r['size']} ({r['H']}, {r['B']}, {r['T']}) | "
            f"{get('jaxrnn_chars_s', ',.0f')} | {get('torch_chars_s', ',.0f')} | "
            f"{get('flax_chars_s', ',.0f')} | {get('ratio_vs_torch', '.2f')} | "
            f"{get('ratio_vs_flax', '.2f')} | {get('jaxrnn_ceiling', '.0%')} / "
            f"{get('torch_ceiling', '.0%')} / {get('flax_ceiling', '.0%')} | "
            f"{r['compile_s']:.2f} / {get('flax_compile_s', '.2f')} | {r['traces']} |")
    if results.get("memory"):
        lines += ["", "| T | gradient memory plain MiB | with jax.checkpoint MiB | ratio | "
                      "time plain s | time checkpoint s | extra time |", "|" + "---|" * 7]
        for r in results["memory"]:
            lines.append(f"| {r['T']} | {r['plain_MiB']:.0f} | {r['checkpoint_MiB']:.0f} | "
                         f"{r['memory_ratio']:.1f}x | {r['plain_s']:.3f} | "
                         f"{r['checkpoint_s']:.3f} | {r['time_overhead']:+.0%} |")
    if results.get("sine"):
        lines += ["", "Sine per-sample SGD: " + json.dumps(results["sine"])]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=lambda s: s.split(","), default=list(SIZES))
    p.add_argument("--cells", type=lambda s: s.split(","), default=list(GATES))
    p.add_argument("--frameworks", type=lambda s: s.split(","), default=["torch", "flax"])
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--rounds", type=int, default=5, help="timing rounds (median reported)")
    p.add_argument("--min-time", type=float, default=0.5, help="seconds per timing round")
    p.add_argument("--unroll", type=int, default=1, help="lax.scan unroll for jaxrnn")
    p.add_argument("--rnn-backward", choices=["fused", "scan"], default="fused",
                   help="unroll's backward for the RNN: fused (jaxrnn.rnn_backward) or scan")
    p.add_argument("--memory-T", type=lambda s: [int(x) for x in s.split(",") if x],
                   default=[1000, 5000])
    p.add_argument("--sine-numpy-epochs", type=int, default=3)
    p.add_argument("--skip", type=lambda s: s.split(","), default=[],
                   help="parts to skip: throughput,memory,sine")
    p.add_argument("--malloc", choices=["keep", "default"], default="keep",
                   help="keep: glibc malloc keeps freed memory (jaxrnn.io.malloc, as the jaxrnn "
                        "command does) for jaxrnn and Flax in this process; default: glibc's "
                        "defaults. PyTorch is timed both ways either way")
    p.add_argument("--json", default="runs/bench.json")
    args = p.parse_args(argv)
    bad = set(args.sizes) - set(SIZES) or set(args.cells) - set(GATES)
    if bad:
        p.error(f"unknown size/cell {sorted(bad)}; sizes {list(SIZES)}, cells {list(GATES)}")
    from jaxrnn.io.malloc import keep_freed_memory

    malloc_kept = args.malloc == "keep" and keep_freed_memory()
    import jax

    device = jax.devices()[0]
    n = 2048 if device.platform != "cpu" else 1024
    ceiling = matmul_ceiling(n)
    results = {"machine": f"{device.platform} {device.device_kind}, {os.cpu_count()} CPUs, "
                          f"torch threads {args.threads}, jaxrnn/Flax malloc "
                          f"{'keeps freed memory' if malloc_kept else 'glibc default'}",
               "ceiling_gflops": ceiling / 1e9, "ceiling_n": n, "args": vars(args)}
    print(f"matmul ceiling: {ceiling / 1e9:.1f} GFLOP/s", flush=True)
    if "throughput" not in args.skip:
        results["throughput"] = bench_throughput(args, ceiling)
    if "memory" not in args.skip:
        results["memory"] = bench_memory(args)
    if "sine" not in args.skip:
        results["sine"] = bench_sine(args)
    text = markdown(results)
    print("\n" + text)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
