"""``jaxrnn sweep``: run an ablation sweep from a spec file or command-line lists.

Examples::

    jaxrnn sweep clipping --out runs/sweep-clip             # a shipped study, by name
    jaxrnn sweep my-spec.json --out runs/sweep-mine
    jaxrnn sweep my-spec.json --out runs/sweep-mine --resume             # after a stop
    jaxrnn sweep --task sine --preset vlasov --set epochs=20 \\
        --grid learning_rate=0.003,0.01,0.03 --grid clip=none,value --seeds 0-4
    jaxrnn sweep --report runs/sweep-clip                                 # redraw the report

Several hosts: start the same command on every host with ``--distributed``, which calls
``jax.distributed.initialize(coordinator, num_processes, process_id)``. Under Slurm, Open MPI,
Kubernetes or on Cloud TPU the three are detected from the environment; elsewhere pass
``--coordinator HOST:PORT --num-processes N --process-id I`` (or set JAX_COORDINATOR_ADDRESS).
The runs are then sharded over every host's devices and process 0 writes the results.

When any run of the spec has ``dtype=float64``, the command turns on ``jax_enable_x64`` first
(the task programs only check it, ``jaxrnn.io.settings.require_dtype``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from jaxrnn.io import settings
from jaxrnn.scale import distributed
from jaxrnn.scale.mesh import select_devices
from jaxrnn.sweep.studies import STUDIES, study_path
from jaxrnn.sweep.spec import expand, load_spec, parse_seeds, quick_spec, spec_from_dict


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sweep's flags."""
    parser.add_argument("spec", nargs="?", help=f"spec file (.json or .toml) or a shipped "
                                                f"study ({', '.join(STUDIES)}); or use --task")
    parser.add_argument("--task", help="task of a command-line spec: sine, memory or char")
    parser.add_argument("--preset", help="the task's preset (command-line spec)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="base override for every run (repeatable)")
    parser.add_argument("--grid", action="append", default=[], metavar="FIELD=V1,V2,...",
                        help="a swept field and its values (repeatable)")
    parser.add_argument("--seeds", help="seeds, e.g. 0-4 or 0,1,2 (default: the spec's)")
    parser.add_argument("--metric", help="main final metric (default: the task's)")
    parser.add_argument("--name", help="sweep name (default: the task's)")
    parser.add_argument("--out", help="sweep directory (default runs/sweep-<name>)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the sweep in --out; finished programs are kept")
    parser.add_argument("--quick", action="store_true",
                        help="apply the spec's 'quick' overrides (a small version)")
    parser.add_argument("--max-programs", type=int, default=0,
                        help="stop after this many programs (resume later); 0: all")
    parser.add_argument("--max-chunks", type=int, default=0,
                        help="stop after this many chunks in all (resume later from the last "
                             "finished chunk of the program in flight); 0: all")
    parser.add_argument("--devices", type=int, default=0,
                        help="use only the first N devices of each host (default: all)")
    distributed.add_arguments(parser)
    parser.add_argument("--report", metavar="DIR", help="only redraw the report of DIR")
    parser.add_argument("--no-report", action="store_true", help="skip tables and figures")


def _pairs(items: list, flag: str) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} expects FIELD=VALUE; got {item!r}")
        out[key] = value
    return out


def spec_file(spec: str) -> Path:
    """The spec file ``spec`` names: a shipped study's name, else a path."""
    return study_path(spec) if spec in STUDIES and not Path(spec).exists() else Path(spec)


def build_spec(args):
    """The spec from the file and/or the command-line flags (flags override the file)."""
    if args.spec:
        d = load_spec(spec_file(args.spec)).to_json()
    elif args.task:
        d = {"task": args.task}
    else:
        raise ValueError("give a spec file (jaxrnn sweep SPEC) or --task with --grid lists")
    for key in ("task", "preset", "metric", "name"):
        if getattr(args, key):
            d[key] = getattr(args, key)
    d["base"] = {**d.get("base", {}), **_pairs(args.set, "--set")}
    grid = {k: [x for x in v.split(",") if x.strip()]
            for k, v in _pairs(args.grid, "--grid").items()}
    d["grid"] = {**d.get("grid", {}), **grid}
    if args.seeds:
        d["seeds"] = parse_seeds(args.seeds)
    spec = spec_from_dict(d)
    return quick_spec(spec) if args.quick else spec


def run(args) -> int:
    """Runs the sweep (or redraws a report); exit status 0."""
    from jaxrnn.sweep.report import write_report

    if args.report:
        print(f"wrote {write_report(args.report)}")
        return 0
    if min(args.max_programs, args.max_chunks, args.devices) < 0:
        raise ValueError("--max-programs, --max-chunks and --devices must be >= 0")
    distributed.initialize(args.distributed, args.coordinator, args.num_processes,
                           args.process_id)
    import jax

    from jaxrnn.sweep.runner import run_sweep

    spec = build_spec(args)
    if any(getattr(r.config, "dtype", "float32") == "float64" for r in expand(spec)):
        settings.enable_dtype("float64")  # the command's entry; the programs only check it
    devices = select_devices(args.devices) if args.devices else None
    out = args.out or f"runs/sweep-{spec.name}"
    run_sweep(spec, out, resume=args.resume, devices=devices, max_programs=args.max_programs,
              max_chunks=args.max_chunks, report=not args.no_report,
              spec_path=spec_file(args.spec) if args.spec else None)
    summary = Path(out) / "summary.md"
    if jax.process_index() == 0:
        done = not args.no_report and summary.exists()
        print(summary.read_text().split("## Figures")[0].strip() if done else f"wrote {out}")
    return 0
