"""What ``jaxrnn.io.malloc.keep_freed_memory`` buys: jaxrnn's training throughput with glibc's default
malloc and with freed memory kept, each in fresh processes, alternated to spread machine noise.

    python scripts/bench_malloc.py --repeats 3

A process-wide allocator setting cannot be A/B-timed inside one process, so this runs
``scripts/bench.py`` (jaxrnn only, throughput only) once per setting per repeat, in the order
default, keep, default, keep, ..., and prints the median chars/s of each and their ratio.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def one_run(malloc, sizes, cells, rounds, min_time):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        subprocess.run([sys.executable, str(HERE / "bench.py"), "--malloc", malloc,
                        "--frameworks", "none", "--skip", "memory,sine", "--sizes", sizes,
                        "--cells", cells, "--rounds", str(rounds), "--min-time", str(min_time),
                        "--json", str(out)], check=True, capture_output=True)
        rows = json.loads(out.read_text())["throughput"]
    return {(r["cell"], r["size"]): r["jaxrnn_chars_s"] for r in rows}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sizes", default="small,medium,large")
    p.add_argument("--cells", default="rnn,lstm,gru")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--min-time", type=float, default=0.5)
    args = p.parse_args(argv)
    runs = {"default": [], "keep": []}
    for i in range(args.repeats):
        for malloc in runs:
            runs[malloc].append(one_run(malloc, args.sizes, args.cells, args.rounds,
                                        args.min_time))
            print(f"  repeat {i + 1}, malloc {malloc}: done", flush=True)
    print("\n| cell | size | default chars/s | keep chars/s | keep/default |\n|---|---|---|---|---|")
    for key in runs["default"][0]:
        d = statistics.median(r[key] for r in runs["default"])
        k = statistics.median(r[key] for r in runs["keep"])
        print(f"| {key[0]} | {key[1]} | {d:,.0f} | {k:,.0f} | {k / d:.2f} |")


if __name__ == "__main__":
    main()
