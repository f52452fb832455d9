"""``jaxrnn reproduce``: rerun the seed presets and studies and write one Markdown report.

The report is a list of sections. Each entry of ``SECTIONS`` is ``(name, function)`` with
``function(out_dir: Path, quick: bool) -> str``: it writes its runs under ``out_dir``
(``<--out>/<name>``) and returns Markdown whose links are relative to the report's directory.
Add a study by importing its section function and appending one line. Quick mode (the default)
keeps the whole command to a few minutes on a laptop CPU, offline; ``--full`` runs every preset
at its published length.
Finished runs in ``--out`` with the same config are reused, so an interrupted report resumes.
"""
from __future__ import annotations

import time
from pathlib import Path

from jaxrnn.io import runs
from jaxrnn.scale import distributed
from jaxrnn.sweep import studies
from jaxrnn.tasks.char import report as char_report
from jaxrnn.tasks.online import study as online_study
from jaxrnn.tasks.sine import report as sine_report

SECTIONS = [
    ("sine", sine_report.section),
    ("char", char_report.section),
    ("ablations", studies.reproduce_section),
    ("online", online_study.section),
]


def add_arguments(parser) -> None:
    parser.add_argument("--out", default="runs/reproduce",
                        help="report directory (default runs/reproduce); report.md goes here")
    parser.add_argument("--full", action="store_true",
                        help="run every preset at full length (e.g. vlasov's 2000 epochs)")
    parser.add_argument("--only", action="append", default=None, metavar="SECTION",
                        help=f"run only this section (repeatable): "
                             f"{', '.join(n for n, _ in SECTIONS)}")
    distributed.add_arguments(parser)


def _header(quick: bool) -> str:
    v = runs.versions()
    return (f"# jaxrnn reproduction report\n\nMode: {'quick' if quick else 'full'}. "
            f"jaxrnn {v['jaxrnn']}, jax {v['jax']}, optax {v['optax']}, numpy {v['numpy']}, "
            f"Python {v['python']}, device {v['device_kind']}.\n")


def run(args) -> int:
    """Runs the sections; with ``--distributed`` every host runs them, the sweeps shard over
    every host's devices, and process 0 alone writes (``jaxrnn.scale.distributed``)."""
    distributed.initialize(args.distributed, args.coordinator, args.num_processes,
                           args.process_id)
    names = [n for n, _ in SECTIONS]
    for name in args.only or []:
        if name not in names:
            raise ValueError(f"unknown section {name!r}; expected one of {', '.join(names)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    quick = not args.full
    parts = [_header(quick)]
    t0 = time.perf_counter()
    for name, section in SECTIONS:
        if args.only and name not in args.only:
            continue
        print(f"{distributed.tag()}section {name}:")
        t = time.perf_counter()
        markdown = section(out / name, quick)
        parts.append(markdown + f"\n_Section time: {time.perf_counter() - t:.0f} s._\n")
    parts.append(f"\n_Total time: {time.perf_counter() - t0:.0f} s._\n")
    report = out / "report.md"
    runs.atomic_write_bytes(report, "\n".join(parts).encode())
    print(f"{distributed.tag()}{'wrote' if runs.is_writer() else 'process 0 wrote'} {report}")
    return 0
