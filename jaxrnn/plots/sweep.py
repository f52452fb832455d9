"""A sweep's figures, drawn from its saved ``results.csv`` and ``programs/*.npz`` only.

- ``final_<metric>.png``: the metric against each swept field (one panel per field, one shared
  y axis), a line per setting of the other fields (points, not joined, when the field is
  categorical), every seed as a dot, the mean with its 95% t-interval as an error bar only over
  >= 3 seeds and clipped to the metric's domain (``jaxrnn.plots.rules``); diverged runs as x
  at the top of the panel;
- ``curve_<name>.png``: learning curves, mean over seeds with a band from the lowest to the
  highest seed, a line per grid point (panels per value of the first field when crowded);
- ``profile_<name>.png``: per-step profiles such as ``||∂L/∂c_t||`` over t, drawn the same way;
  identical curves (a profile at init does not depend on the optimiser) are drawn once.
A figure with nothing to show (no finite value; a curve with one point) is not written.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from matplotlib import artist, rcParams, ticker, transforms

from jaxrnn.io import runs
from jaxrnn.plots.common import legend_below, save, subplots, suptitle
from jaxrnn.plots.labels import field_label, metric_label, point_label, value_label
from jaxrnn.plots.rules import (bar_extents, hidden, identical_groups, is_categorical,
                                shown_interval, uses_log_scale)

COLORS = rcParams["axes.prop_cycle"].by_key()["color"]


def with_cases(spec: dict, grid: dict, rows: list, agg: list):
    """``(grid, rows, agg)`` where the fields set together by the spec's cases become one field
    ``case`` (its values joined by "/"), so each case is one x position and one line.

    Args: grid: swept field -> its values (the report's ``swept``: case keys, then the grid).
    """
    keys = list(dict.fromkeys(k for case in spec.get("cases", []) for k in case))
    if not keys:
        return grid, rows, agg

    def label(r):
        parts = [value_label(k, r[k]) for k in keys]
        return f"{parts[0]} (all)" if len(parts) > 1 and len(set(parts)) == 1 else \
            "/".join(parts)

    rows = [{**r, "case": label(r)} for r in rows]
    agg = [{**e, "case": label(e)} for e in agg]
    cases = list(dict.fromkeys(r["case"] for r in rows))
    return {"case": cases, **{f: v for f, v in grid.items() if f not in keys}}, rows, agg


def _case_label(spec: dict) -> str:
    return " / ".join(field_label(k) for k in
                      dict.fromkeys(k for c in spec.get("cases", []) for k in c))


def _dodge(n: int, categorical: bool) -> np.ndarray:
    """x offsets of n lines at one categorical position, so their points do not overlap."""
    if not categorical or n < 2:
        return np.zeros(n)
    step = min(0.5 / n, 0.12)
    return (np.arange(n) - (n - 1) / 2) * step


def _seed_panel(ax, rows, metric) -> None:
    """No swept field: the metric of each seed as a point."""
    seeds = sorted({r["seed"] for r in rows})
    ax.plot([seeds.index(r["seed"]) for r in rows], [r[metric] for r in rows], "o", ls="none")
    ax.set_xticks(range(len(seeds)), [str(s) for s in seeds])
    ax.set_xlim(-0.5, len(seeds) - 0.5)
    ax.set_xlabel("seed")


def _final_panel(ax, spec, grid, rows, agg, metric, field) -> list:
    """One panel of ``final_figure``; returns the notes for what it could not draw."""
    others = [f for f in grid if f != field]
    values = grid[field]
    xs = {repr(v): i for i, v in enumerate(values)}
    categorical = is_categorical(field, values)
    lines: dict = {}
    for e in agg:
        lines.setdefault(tuple(e[o] for o in others), []).append(e)
    top = transforms.blended_transform_factory(ax.transData, ax.transAxes)
    diverged = 0
    for i, ((key, entries), off) in enumerate(zip(lines.items(),
                                                  _dodge(len(lines), categorical))):
        color = COLORS[i % len(COLORS)]
        pos = np.array([xs[repr(e[field])] for e in entries], float) + off
        mean = np.array([e[metric]["mean"] for e in entries])
        ax.plot(pos, mean, marker="o", ms=6, ls="none" if categorical else "-", color=color,
                label=point_label(others, dict(zip(others, key))) if others else None)
        pts = [(xs[repr(r[field])] + off, r[metric]) for r in rows
               if tuple(r[o] for o in others) == key]
        ax.scatter([p for p, _ in pts], [v for _, v in pts], s=12, alpha=0.45, color=color)
        for p, m, e in zip(pos, mean, entries):
            iv = shown_interval(e[metric], metric)
            if iv is not None:
                below, above = bar_extents(m, iv)
                ax.errorbar([p], [m], yerr=[[below], [above]], color=color,
                            capsize=3, ls="none")
            if e.get("diverged"):
                diverged += e["diverged"]
                ax.plot([p], [0.97], marker="x", ms=8, mew=2, ls="none", color=color,
                        transform=top, clip_on=False)
    ticks = [value_label(field, v) for v in values]
    ax.set_xticks(range(len(values)), ticks)
    if len("".join(ticks)) > 50:
        artist.setp(ax.get_xticklabels(), rotation=25, ha="right")
    ax.set_xlim(-0.5, len(values) - 0.5)
    ax.set_xlabel(_case_label(spec) if field == "case" else field_label(field))
    return [f"x at the top: {diverged} diverged run(s), left out of the mean"] if diverged else []


def final_figure(spec: dict, grid: dict, rows: list, agg: list, metric: str):
    """The metric against each swept field of ``grid`` (module docstring)."""
    fields = list(grid) or ["seed"]
    n_lines = max([len({tuple(e[o] for o in grid if o != f) for e in agg}) for f in grid]
                  or [1])
    legend_in = 0.2 * n_lines + 0.3 if n_lines > 1 else 0.05  # rows of fontsize 7
    fig, axes = subplots(2, len(fields), figsize=(5.5 * len(fields) + 0.5, 4.0 + legend_in),
                         squeeze=False, height_ratios=[4.0, legend_in])
    finite = [r[metric] for r in rows if np.isfinite(r[metric])]
    log = uses_log_scale([finite])
    notes = []
    for ax, legend_ax, field in zip(axes[0], axes[1], fields):
        if ax is not axes[0, 0]:
            ax.sharey(axes[0, 0])
        if log:
            ax.set_yscale("log", nonpositive="mask")
        if field == "seed":
            _seed_panel(ax, rows, metric)
        else:
            notes += _final_panel(ax, spec, grid, rows, agg, metric, field)
        ax.grid(True, alpha=0.3)
        legend_below(ax, legend_ax, fontsize=7)
    if log and any(v == 0 for v in finite):
        notes.append(f"{sum(v == 0 for v in finite)} run(s) exactly 0: not drawn (log axis)")
    axes[0, 0].set_ylabel(metric_label(metric))
    seeds = len({r["seed"] for r in rows})
    what = metric_label(metric)
    when = "" if "at init" in what or "after training" in what else " after training"
    suptitle(fig, f"{spec['name']}: {what}{when} ({seeds} seeds; dots: "
                  f"seeds, marker: mean, bar: 95% t-interval clipped to the metric's range, "
                  f"drawn only with at least 3 seeds)"
             + "".join(f"; {n}" for n in dict.fromkeys(notes)))
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


def _line_labels(fields: list, series: dict, shown: list) -> dict:
    """key -> legend entry for the first key of each group of identical curves (the others are
    not drawn): "all 20 settings (identical)" when every curve is the same."""
    groups = identical_groups(series)
    if len(groups) == 1 and len(series) > 1:
        return {groups[0][0]: f"all {len(series)} settings (identical curves, drawn once)"}
    labels = {}
    for group in groups:
        first = point_label(shown, dict(zip(fields, group[0])))
        labels[group[0]] = first if len(group) == 1 else \
            f"{first} and {len(group) - 1} more (identical)"
    return labels


def _zero_note(x, steps: list) -> str:
    if len(steps) == len(x):
        return "exactly 0 at every step"
    if steps == list(range(len(steps))):
        return f"exactly 0 up to {value_label('', x[steps[-1]])}"
    return f"exactly 0 at {len(steps)} of {len(x)} steps"


def _first_bad(s) -> int:
    """Index of a diverged seed's first non-finite value after its first finite one."""
    ok = np.isfinite(s)
    start = int(np.argmax(ok)) if ok.any() else 0
    return start + int(np.argmax(~ok[start:]))


def _band(ax, x, v, label: str, log: bool) -> None:
    """Draws one grid point's mean and min-max band; its legend entry says what is not drawn
    (diverged seeds, marked x at the top where they stop; values exactly 0 on a log axis)."""
    with warnings.catch_warnings():  # all-NaN columns (no value at step 0) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        finite = np.where(np.isfinite(v), v, np.nan)
        mean = np.nanmean(finite, axis=0) if np.isfinite(finite).any() else finite[0]
        lo, hi = np.nanmin(finite, axis=0), np.nanmax(finite, axis=0)
    h = hidden(v, log=log)
    notes = []
    if h["diverged"]:
        notes.append(f"{h['diverged']} of {len(v)} seeds diverged (x; left out)")
    if h["zero_steps"]:
        notes.append(_zero_note(x, h["zero_steps"]) + " (not drawn on the log axis)")
    shown = np.isfinite(mean) & ((mean > 0) if log else True)
    line, = ax.plot(x, mean, marker="o" if shown.sum() <= 12 else None, ms=4,
                    label=label + (f": {'; '.join(notes)}" if notes else ""))
    alone = shown & ~np.r_[False, shown[:-1]] & ~np.r_[shown[1:], False]
    if alone.any():  # points with no neighbour to draw a line to
        ax.plot(x[alone], mean[alone], "o", ms=5, color=line.get_color())
    ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.18, linewidth=0)
    top = transforms.blended_transform_factory(ax.transData, ax.transAxes)
    stops = [x[_first_bad(s)] for s in np.asarray(v, float)
             if not np.isfinite(s[-1]) or np.isinf(s).any()]
    if stops:  # (an empty artist on this transform breaks the constrained layout)
        ax.plot(stops, [0.97] * len(stops), "x", ms=8, mew=2, color=line.get_color(),
                transform=top, clip_on=False)


def band_figure(spec: dict, fields: list, name: str, series: dict, xlabel: str):
    """Mean over seeds with a min-max band, a line per grid point (panels when crowded)."""
    labels_all = _line_labels(fields, series, fields)
    facet = len(labels_all) > 6 and len(fields) >= 2
    labels = _line_labels(fields, series, fields[1:]) if facet else labels_all
    panels: dict = {}
    for key in labels:
        panels.setdefault(key[0] if facet else None, []).append(key)
    legend_in = 0.2 * max(len(k) for k in panels.values()) + 0.3  # rows of fontsize 7
    fig, axes = subplots(2, len(panels), figsize=(min(5.5 * len(panels), 22), 4.0 + legend_in),
                         squeeze=False, height_ratios=[4.0, legend_in])
    log = uses_log_scale([series[k][1] for k in labels])
    for ax, legend_ax, (panel, keys) in zip(axes[0], axes[1], panels.items()):
        if ax is not axes[0, 0]:
            ax.sharey(axes[0, 0])
        if log:
            ax.set_yscale("log", nonpositive="mask")
        for key in keys:
            _band(ax, *series[key], labels[key], log)
        if facet:
            ax.set_title(f"{field_label(fields[0]).split(' (')[0]} {value_label(fields[0], panel)}")
        xs = np.concatenate([np.ravel(series[k][0]) for k in keys])
        if len(xs):
            pad = 0.03 * max(float(xs.max() - xs.min()), 1.0)
            ax.set_xlim(float(xs.min()) - pad, float(xs.max()) + pad)
        ax.set(xlabel=xlabel)
        if np.allclose(xs, np.round(xs)):
            ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        legend_below(ax, legend_ax, fontsize=7)
    axes[0, 0].set_ylabel(metric_label(name))
    suptitle(fig, f"{spec['name']}: {metric_label(name)} (mean over seeds, band: lowest to "
                  f"highest seed)")
    return fig


def worth_a_curve(series: dict) -> bool:
    """A curve figure says more than the final table only with >= 2 finite x positions."""
    return any(np.isfinite(v).any(axis=0).sum() >= 2 for _, v in series.values())


def draw_figures(out, spec: dict, grid: dict, rows: list, agg: list, metrics: list) -> list:
    """Every figure of the module docstring that has something to show; returns their paths.

    Args: out: the sweep directory; grid: swept field -> values (``with_cases``); rows: the
      results.csv rows; agg: the report's per-point aggregates; metrics: the reported metrics.
    """
    out = Path(out)
    labels = {}
    for meta in runs.program_files(out, "*.json"):
        labels = json.loads(meta.read_text()).get("labels", labels)
    grid, rows, agg = with_cases(spec, grid, rows, agg)
    paths = [save(final_figure(spec, grid, rows, agg, m), out / f"final_{m}.png")
             for m in metrics if any(np.isfinite(r[m]) for r in rows)]
    for prefix in ("curve", "profile"):
        for name, series in _series_by_point(out, list(grid), rows, prefix).items():
            if name == "grad_norm" or not series or not worth_a_curve(series):
                continue
            xlabel = labels.get(f"{prefix}_label", prefix)
            paths.append(save(band_figure(spec, list(grid), name, series, xlabel),
                              out / f"{prefix}_{name}.png"))
    return paths
