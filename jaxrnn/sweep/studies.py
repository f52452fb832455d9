"""The ablation studies shipped in ``experiments/`` and the report section ``jaxrnn reproduce``
writes for them.

Each study is a spec file ``experiments/<name>.json`` (or ``.toml``) documented in
``experiments/ablations.md``. ``reproduce_section(out_dir, quick)`` runs every study (its
``quick`` version when ``quick``: fewer epochs or steps, two seeds) into ``out_dir/<name>`` and
returns Markdown with, per study, the command, the runtime, the main table and a figure.
"""
from __future__ import annotations

import time
from pathlib import Path

from jaxrnn.sweep.runner import run_sweep
from jaxrnn.sweep.spec import Spec, load_spec, quick_spec, spec_from_dict

STUDIES = ("truncation-sine", "truncation-sine-adam", "truncation-char", "clipping",
           "optimizer", "cells", "init")
EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"  # the checkout's, above jaxrnn/


def study_path(name: str, root=None) -> Path:
    """The spec file of study ``name`` (.json, else .toml) under ``root``, else under the
    checkout's ``experiments/`` or ``./experiments``."""
    roots = [Path(root)] if root else [EXPERIMENTS, Path.cwd() / "experiments"]
    for folder in roots:
        for suffix in (".json", ".toml"):
            if (folder / f"{name}{suffix}").is_file():
                return folder / f"{name}{suffix}"
    raise FileNotFoundError(f"no spec for study {name!r} in {', '.join(map(str, roots))} "
                            f"(expected {name}.json or {name}.toml; run from a jaxrnn checkout)")


def offline_text(spec: Spec) -> Spec:
    """A char study whose text file is missing falls back to the offline ``stdlib`` corpus."""
    text = spec.base.get("text")
    if spec.task != "char" or not text or Path(text).is_file():
        return spec
    d = spec.to_json()
    d["base"] = {**spec.base, "text": "", "corpus": "stdlib"}
    d["description"] = spec.description + f" (Here {text} was missing: stdlib corpus instead.)"
    return spec_from_dict(d)


def run_study(name: str, out_dir, quick: bool = True, *, log=None) -> tuple:
    """Runs one study (resuming what finished); returns ``(spec, its directory, wall seconds)``."""
    path = study_path(name)
    spec = load_spec(path)
    spec = offline_text(quick_spec(spec) if quick else spec)
    out = Path(out_dir) / name
    t0 = time.perf_counter()
    run_sweep(spec, out, resume=True, log=log, spec_path=path)
    return spec, out, time.perf_counter() - t0


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
             f"The {size} of the studies in `experiments/` (documented in "
             f"`experiments/ablations.md`); tables over seeds: mean, std, 95% t-interval (none "
             f"under 3 seeds, clipped to the metric's range).", ""]
    for name in STUDIES:
        spec, out, wall = run_study(name, out_dir, quick)
        flag = " --quick" if quick else ""
        lines += [f"### {name}", "", spec.description, "",
                  f"Command: `jaxrnn sweep experiments/{study_path(name).name}{flag} --out "
                  f"{out}`; {wall:.0f} s here.", "",
                  _table(out / "summary.md", spec.metric), "",
                  f"![{name}]({out.relative_to(out_dir.parent)}/final_{spec.metric}.png)", ""]
    return "\n".join(lines)
