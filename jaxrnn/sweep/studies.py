"""The ablation studies shipped with the package and the report section ``jaxrnn reproduce``
writes for them.

Each study is a JSON spec shipped as package data, ``jaxrnn/sweep/specs/<name>.json``
(documented in ``experiments/ablations.md``), so ``jaxrnn sweep <name>`` and ``jaxrnn
reproduce`` work from any directory on an installed wheel. ``reproduce_section(out_dir,
quick)`` runs every study (its ``quick`` version when ``quick``: fewer epochs or steps, two
seeds) into ``out_dir/<name>`` and returns Markdown with, per study, the command, the runtime,
the main table and a figure.

A char study names a corpus (``corpus: "tinyshakespeare"``). ``jaxrnn reproduce`` promises to
need no network, so it uses tiny-shakespeare only when a verified copy is local
(``$JAXRNN_TINYSHAKESPEARE`` or the cache, ``jaxrnn.data.corpora.find_local``); otherwise it
trains on the offline ``stdlib`` corpus and prints that and writes it into the report.
"""
from __future__ import annotations

import time
from pathlib import Path

from jaxrnn.data import corpora
from jaxrnn.sweep.runner import run_sweep
from jaxrnn.sweep.spec import Spec, load_spec, quick_spec, spec_from_dict

STUDIES = ("truncation-sine", "truncation-sine-adam", "truncation-char", "clipping",
           "optimizer", "cells", "init")
SPECS = Path(__file__).resolve().parent / "specs"  # package data: ships in the wheel


def study_path(name: str) -> Path:
    """The shipped spec file of study ``name`` (``STUDIES``)."""
    path = SPECS / f"{name}.json"
    if name not in STUDIES or not path.is_file():
        raise FileNotFoundError(f"no shipped study {name!r}; expected one of "
                                f"{', '.join(STUDIES)} (or give a spec file's path)")
    return path


def offline_corpus(spec: Spec) -> tuple[Spec, str]:
    """``(spec, note)``: a char study on tiny-shakespeare when no verified copy is local gets
    the offline ``stdlib`` corpus instead, and ``note`` says so (else ``""``)."""
    if spec.task != "char" or spec.base.get("text") or \
            spec.base.get("corpus", "tinyshakespeare") != "tinyshakespeare":
        return spec, ""
    if corpora.find_local() is not None:
        return spec, ""
    note = (f"tiny-shakespeare is not available offline (set ${corpora.TINYSHAKESPEARE.env} to "
            f"a copy, or run `jaxrnn char` once with network to cache it in "
            f"{corpora.cache_dir()}), so this run used the Python standard library's sources "
            f"(the stdlib corpus) instead: its numbers are not the tiny-shakespeare ones.")
    d = spec.to_json()
    d["base"] = {**spec.base, "corpus": "stdlib"}
    d["description"] = spec.description + " " + note
    return spec_from_dict(d), note


def run_study(name: str, out_dir, quick: bool = True, *, log=None) -> tuple:
    """Runs one study (resuming what finished); returns ``(spec, its directory, wall seconds,
    fallback note)``; the note (``offline_corpus``) is also printed."""
    path = study_path(name)
    spec = load_spec(path)
    spec, note = offline_corpus(quick_spec(spec) if quick else spec)
    if note:
        print(f"{name}: {note}", flush=True)
    out = Path(out_dir) / name
    t0 = time.perf_counter()
    run_sweep(spec, out, resume=True, log=log, spec_path=path)
    return spec, out, time.perf_counter() - t0, note


def _table(summary: Path, metric: str) -> str:
    """The main metric's table from a sweep's summary.md."""
    text = summary.read_text()
    part = text.split(f"## {metric}\n", 1)[1] if f"## {metric}\n" in text else ""
    return part.split("\n## ", 1)[0].strip()


def reproduce_section(out_dir, quick: bool = True) -> str:
    """Runs every shipped study into ``out_dir`` and returns their Markdown section."""
    out_dir = Path(out_dir)
    size = "quick (small) versions" if quick else "full versions"
    lines = ["## Ablation studies", "",
             f"The {size} of the shipped studies (`jaxrnn/sweep/specs/`, documented in "
             f"`experiments/ablations.md`); tables over seeds: mean, std, 95% t-interval (none "
             f"under 3 seeds, clipped to the metric's range).", ""]
    for name in STUDIES:
        spec, out, wall, note = run_study(name, out_dir, quick)
        flag = " --quick" if quick else ""
        lines += [f"### {name}", "", spec.description, ""]
        lines += [f"**Corpus fallback:** {note}", ""] if note else []
        lines += [f"Command: `jaxrnn sweep {name}{flag} --out {out}`; {wall:.0f} s here.", "",
                  _table(out / "summary.md", spec.metric), "",
                  f"![{name}]({out.relative_to(out_dir.parent)}/final_{spec.metric}.png)", ""]
    return "\n".join(lines)
