"""A sweep's report: per grid point mean, std and 95% interval over seeds, as Markdown and figures.

For each grid point and metric, over the n seeds whose value is finite (diverged runs, NaN or
inf, are counted in ``diverged`` and left out)::

    mean m = (1/n) Σ x_i,   std s = sqrt(Σ (x_i - m)² / (n - 1)),
    95% interval  m ± t_{0.975, n-1} s / sqrt(n)     (Student's t; none when n < 2)

``write_report(out)`` reads only what the sweep saved (``spec.json``, ``results.csv``,
``programs/``), so the report can be redrawn without training (``jaxrnn sweep --report DIR``). It
writes ``summary.md`` (description, command, runtime, one table per reported metric, figures)
and the PNGs of ``jaxrnn.plots.sweep``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from jaxrnn.io import runs as runs_io
from jaxrnn.plots.labels import fmt, value_label
from jaxrnn.plots.rules import MIN_SEEDS_FOR_INTERVAL, shown_interval
from jaxrnn.plots.sweep import draw_figures


def t_interval(values) -> dict:
    """``{"n", "mean", "std", "lo", "hi"}`` of the finite values (module docstring)."""
    x = np.asarray([v for v in values if math.isfinite(v)], float)
    n = len(x)
    if n == 0:
        return {"n": 0, "mean": math.nan, "std": math.nan, "lo": math.nan, "hi": math.nan}
    mean = float(x.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "std": math.nan, "lo": math.nan, "hi": math.nan}
    from scipy import stats

    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "lo": mean - half, "hi": mean + half}


def swept(spec: dict, rows: list) -> dict:
    """Swept field -> its values as saved in results.csv, in order (case keys, then the grid)."""
    keys = [k for case in spec.get("cases", []) for k in case] + list(spec["grid"])
    return {f: list(dict.fromkeys(r[f] for r in rows)) for f in dict.fromkeys(keys)}


def aggregate(rows: list, fields: list, metrics: list) -> list:
    """One dict per grid point (first-appearance order): its field values, ``seeds``,
    ``diverged`` (runs marked ``diverged`` in results.csv, or with a non-finite first metric)
    and ``t_interval`` per metric over the other runs (a diverged run's finite but huge metric
    would swamp the mean; the table's ``diverged`` column counts it)."""
    points: dict = {}
    for row in rows:
        key = tuple(row[f] for f in fields)
        points.setdefault(key, []).append(row)
    out = []
    for key, members in points.items():
        entry = dict(zip(fields, key))
        entry["seeds"] = len(members)
        bad = [bool(r.get("diverged")) or not math.isfinite(r[metrics[0]]) for r in members]
        entry["diverged"] = sum(bad)
        for m in metrics:
            entry[m] = t_interval([math.nan if b else r[m] for r, b in zip(members, bad)])
        out.append(entry)
    return out


def markdown_table(agg: list, fields: list, metric: str) -> str:
    """A Markdown table of one metric: field values, seeds, diverged, mean, std, 95% interval
    (as the figures: none under 3 seeds, clipped to the metric's domain, ``plots.rules``)."""
    head = fields + ["seeds", "diverged", f"{metric} mean", "std", "95% interval"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in agg:
        s = e[metric]
        iv = shown_interval(s, metric)
        ci = "–" if iv is None else f"[{fmt(iv[0])}, {fmt(iv[1])}]"
        cells = [value_label(f, e[f]) for f in fields] + [str(e["seeds"]), str(e["diverged"]),
                                                     fmt(s["mean"]), fmt(s["std"]), ci]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def command_line(spec_path: str, out) -> str:
    """The ``jaxrnn sweep`` command that reruns the spec."""
    return f"jaxrnn sweep {spec_path} --out {out}"


def report_metrics(spec: dict, rows: list) -> list:
    """The main metric, then the bias metrics when the truncation window is swept."""
    metrics = [spec["metric"]]
    if "bptt_window" in swept(spec, rows):
        metrics += ["bias_cos_final", "bias_rel_final"]
    if "grad_ratio_init" in (rows[0] if rows else {}):
        metrics += ["grad_ratio_init", "grad_ratio_final"]
    return [m for m in dict.fromkeys(metrics) if rows and m in rows[0]]


def write_report(out) -> Path:
    """Writes ``summary.md`` and the figures from the saved results; returns summary.md."""
    out = Path(out)
    spec = json.loads((out / "spec.json").read_text())
    rows = runs_io.read_csv(out / "results.csv") if (out / "results.csv").exists() else []
    fields = list(swept(spec, rows))
    metrics = report_metrics(spec, rows)
    agg = aggregate(rows, fields, metrics) if rows else []
    figures = draw_figures(out, spec, swept(spec, rows), rows, agg, metrics) if rows else []
    programs = [json.loads(p.read_text()) for p in runs_io.program_files(out, "*.json")]
    compile_s = sum(p["compile_s"] for p in programs)
    run_s = sum(p["run_s"] for p in programs)
    sweep = json.loads((out / "sweep.json").read_text())
    versions = sweep["versions"]
    lines = [f"# Sweep `{spec['name']}` ({spec['task']}, preset `{spec['preset']}`)", ""]
    if spec.get("description"):
        lines += [spec["description"], ""]
    lines += [f"Command: `{command_line(sweep['spec_path'], out)}`", "",
              f"Base overrides: `{json.dumps(spec['base'])}`; "
              + (f"cases: `{json.dumps(spec['cases'])}`; " if spec.get("cases") else "")
              + f"grid: `{json.dumps(spec['grid'])}`; seeds: `{spec['seeds']}`.", "",
              f"{len(rows)} runs in {len(programs)} program(s); compile {compile_s:.1f} s, "
              f"train {run_s:.1f} s in total on {versions['device_count']} "
              f"{versions['device_kind']} device(s) (jax {versions['jax']}, jaxlib "
              f"{versions['jaxlib']}, optax {versions['optax']}).", ""]
    lines += [f"Intervals: 95% t-intervals over the seeds, clipped to the metric's range (a "
              f"loss >= 0, a cosine in [-1, 1]); none under {MIN_SEEDS_FOR_INTERVAL} seeds.", ""]
    for m in metrics:
        lines += [f"## {m}", "", markdown_table(agg, fields, m), ""]
    drawn = {p.name for p in figures}
    lines += ["## Figures", ""] + [f"![{p.stem}]({p.name})" for p in figures] + [
        f"No `final_{m}.png`: no run has a finite {m}." for m in metrics
        if f"final_{m}.png" not in drawn] + [""]
    path = out / "summary.md"
    runs_io.atomic_write_bytes(path, "\n".join(lines).encode())
    return path
