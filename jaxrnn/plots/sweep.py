"""A sweep's figures, drawn from its saved ``results.csv`` and ``programs/*.npz`` only.

- ``final_<metric>.png``: the metric against each swept field (one panel per field), a line per
  setting of the other fields, mean with its 95% t-interval as error bars, every seed as a dot;
- ``curve_<name>.png``: learning curves, mean over seeds with a band from the lowest to the
  highest seed, a line per grid point (panels per value of the first field when crowded);
- ``profile_<name>.png``: per-step profiles such as ``||∂L/∂h_t||`` over t, drawn the same way.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from matplotlib import artist

from jaxrnn.io import runs
from jaxrnn.plots.common import save, subplots
from jaxrnn.plots.labels import value_label


def _label(fields, point) -> str:
    return ", ".join(f"{f}={value_label(f, point[f])}" for f in fields) or "all runs"


def _logy(ax, arrays) -> None:
    """Log scale when the finite values are positive and span more than a factor 20 (values
    that are exactly 0, e.g. an underflowed gradient norm, are then not drawn)."""
    vals = np.concatenate([np.ravel(a) for a in arrays]) if arrays else np.array([])
    vals = vals[np.isfinite(vals)]
    if len(vals) and vals.min() >= 0 and vals.max() > 0:
        positive = vals[vals > 0]
        if positive.max() / positive.min() > 20:
            ax.set_yscale("log", nonpositive="mask")


def with_cases(spec: dict, grid: dict, rows: list, agg: list):
    """``(grid, rows, agg)`` where the fields set together by the spec's cases become one field
    ``case`` (its values joined by "/"), so each case is one x position and one line.

    Args: grid: swept field -> its values (the report's ``swept``: case keys, then the grid).
    """
    keys = list(dict.fromkeys(k for case in spec.get("cases", []) for k in case))
    if not keys:
        return grid, rows, agg

    def label(r):
        return "/".join(value_label(k, r[k]) for k in keys)

    rows = [{**r, "case": label(r)} for r in rows]
    agg = [{**e, "case": label(e)} for e in agg]
    cases = list(dict.fromkeys(r["case"] for r in rows))
    return {"case": cases, **{f: v for f, v in grid.items() if f not in keys}}, rows, agg


def final_figure(spec: dict, grid: dict, rows: list, agg: list, metric: str):
    """The metric against each swept field of ``grid`` (module docstring)."""
    fields = list(grid) or ["seed"]
    fig, axes = subplots(1, len(fields), figsize=(5.5 * len(fields), 4), squeeze=False)
    for ax, field in zip(axes[0], fields):
        others = [f for f in grid if f != field]
        values = grid.get(field, sorted({r["seed"] for r in rows}))
        xs = {repr(v): i for i, v in enumerate(values)}
        lines: dict = {}
        for e in agg if field != "seed" else []:
            lines.setdefault(tuple(e[o] for o in others), []).append(e)
        drawn = []
        for key, entries in lines.items():
            pos = [xs[repr(e[field])] for e in entries]
            mean = np.array([e[metric]["mean"] for e in entries])
            lo = np.array([e[metric]["lo"] for e in entries])
            hi = np.array([e[metric]["hi"] for e in entries])
            err = np.nan_to_num(np.stack([mean - lo, hi - mean]), nan=0.0)
            bar = ax.errorbar(pos, mean, yerr=err, marker="o", capsize=3,
                              label=_label(others, dict(zip(others, key))))
            pts = [(xs[repr(r[field])], r[metric]) for r in rows
                   if tuple(r[o] for o in others) == key]
            ax.scatter([p for p, _ in pts], [v for _, v in pts], s=9, alpha=0.35,
                       color=bar[0].get_color())
            drawn += [mean, [v for _, v in pts]]
        _logy(ax, drawn)
        ticks = [value_label(field, v) for v in values]
        ax.set_xticks(range(len(values)), ticks)
        if len("".join(ticks)) > 60:
            artist.setp(ax.get_xticklabels(), rotation=25, ha="right")
        xlabel = " / ".join(dict.fromkeys(k for c in spec.get("cases", []) for k in c)) \
            if field == "case" else field
        ax.set(xlabel=xlabel, ylabel=metric, title=f"{metric} vs {field}")
        ax.grid(True, alpha=0.3)
        if len(lines) > 1:
            ax.legend(fontsize=7)
    fig.suptitle(f"{spec['name']}: final {metric} (mean, 95% t-interval, dots: seeds)")
    return fig


def _series_by_point(out: Path, fields: list, rows: list, prefix: str):
    """{name: {point key: (x, (S, K) values)}} of the saved programs' ``prefix:*`` arrays."""
    point_of = {int(r["run"]): tuple(r[f] for f in fields) for r in rows}
    found: dict = {}
    for path in runs.program_files(out, "*.npz"):
        with np.load(path) as f:
            index = f["run_index"]
            axis = f[f"axis:{prefix}"] if f"axis:{prefix}" in f.files else None
            for name in (k for k in f.files if k.startswith(prefix + ":")):
                series = found.setdefault(name.split(":", 1)[1], {})
                for i, run in enumerate(index):
                    key = point_of.get(int(run))
                    if key is not None:
                        x = axis if axis is not None else np.arange(f[name].shape[1])
                        series.setdefault(key, (x, []))[1].append(f[name][i])
    return {n: {k: (x, np.stack(v)) for k, (x, v) in s.items()} for n, s in found.items()}


def band_figure(spec: dict, fields: list, name: str, series: dict, xlabel: str):
    """Mean over seeds with a min-max band, a line per grid point (panels when crowded)."""
    facet = len(series) > 6 and len(fields) >= 2
    panels: dict = {}
    for key in series:
        panels.setdefault(key[0] if facet else None, []).append(key)
    fig, axes = subplots(1, len(panels), figsize=(min(5.5 * len(panels), 22), 4), squeeze=False)
    for ax, (panel, keys) in zip(axes[0], panels.items()):
        arrays = []
        for key in keys:
            x, v = series[key]
            with warnings.catch_warnings():  # all-NaN columns (no value at step 0) stay NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                finite = np.where(np.isfinite(v), v, np.nan)
                mean = np.nanmean(finite, axis=0) if np.isfinite(finite).any() else finite[0]
                lo, hi = np.nanmin(finite, axis=0), np.nanmax(finite, axis=0)
            shown = fields[1:] if facet else fields
            line, = ax.plot(x, mean, label=_label(shown, dict(zip(fields, key))))
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.18, linewidth=0)
            arrays.append(finite)
        _logy(ax, arrays)
        title = f"{fields[0]}={value_label(fields[0], panel)}" if facet else name
        ax.set(xlabel=xlabel, ylabel=name, title=title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{spec['name']}: {name} (mean over seeds, band: min to max)")
    return fig


def draw_figures(out, spec: dict, grid: dict, rows: list, agg: list, metrics: list) -> list:
    """Every figure of the module docstring; returns their paths.

    Args: out: the sweep directory; grid: swept field -> values (``with_cases``); rows: the
      results.csv rows; agg: the report's per-point aggregates; metrics: the reported metrics.
    """
    out = Path(out)
    labels = {}
    for meta in runs.program_files(out, "*.json"):
        labels = json.loads(meta.read_text()).get("labels", labels)
    grid, rows, agg = with_cases(spec, grid, rows, agg)
    paths = [save(final_figure(spec, grid, rows, agg, m), out / f"final_{m}.png")
             for m in metrics]
    for prefix in ("curve", "profile"):
        for name, series in _series_by_point(out, list(grid), rows, prefix).items():
            if name == "grad_norm" or not series:
                continue
            xlabel = labels.get(f"{prefix}_label", prefix)
            paths.append(save(band_figure(spec, list(grid), name, series, xlabel),
                              out / f"{prefix}_{name}.png"))
    return paths
