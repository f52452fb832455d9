"""What a figure may show: the rules every figure follows, as functions of the data (tested on
the data, not on pixels).

- An interval is drawn only over at least ``MIN_SEEDS_FOR_INTERVAL`` seeds (fewer: the seeds
  are drawn as points), and it is clipped to the metric's domain (``labels.metric_domain``:
  losses >= 0, cosines in [-1, 1]), so a bar never claims an impossible value.
- A categorical axis (clip kind, optimiser, cell or init case) is drawn as points, not joined.
- Curves that are identical (a profile at init does not depend on the optimiser) are drawn once.
- What a log axis or a NaN hides (values exactly 0, diverged seeds) is said on the figure.
"""
from __future__ import annotations

import math

import numpy as np

from jaxrnn.plots.labels import metric_domain

MIN_SEEDS_FOR_INTERVAL = 3


def clipped_interval(lo: float, hi: float, metric: str) -> tuple:
    """``(lo, hi)`` clipped to ``metric``'s domain (a t-interval of a loss from 2 seeds can
    reach below 0; the loss cannot)."""
    dlo, dhi = metric_domain(metric)
    return max(lo, dlo), min(hi, dhi)


def shown_interval(stat: dict, metric: str) -> tuple | None:
    """The error bar of a point's t-interval ``stat`` (``{"n", "lo", "hi"}``): None for fewer
    than ``MIN_SEEDS_FOR_INTERVAL`` finite seeds or no finite bounds, else the interval clipped
    to the metric's domain."""
    if stat["n"] < MIN_SEEDS_FOR_INTERVAL:
        return None
    if not (math.isfinite(stat["lo"]) and math.isfinite(stat["hi"])):
        return None
    return clipped_interval(stat["lo"], stat["hi"], metric)


def bar_extents(mean: float, interval: tuple) -> tuple:
    """``(below, above)`` of an error bar at ``mean`` spanning ``interval``, never negative: a
    float32 cosine can end a rounding step above 1, outside its clipped interval [., 1]."""
    return max(mean - interval[0], 0.0), max(interval[1] - mean, 0.0)


def is_categorical(field: str, values) -> bool:
    """A swept field whose values are names (clip kind, optimiser, a case of several fields),
    so its x positions have no order and are not joined by lines."""
    return field == "case" or any(isinstance(v, str) for v in values)


def identical_groups(series: dict) -> list:
    """Keys of ``series`` (key -> ``(x, (S, K) values)``) grouped by equal data (NaN equal to
    NaN), in first-appearance order: ``[[k1, k3], [k2]]``."""
    groups: list = []
    for key, (x, v) in series.items():
        for group in groups:
            gx, gv = series[group[0]]
            if (np.shape(gx) == np.shape(x) and np.array_equal(gx, x)
                    and np.shape(gv) == np.shape(v) and np.array_equal(gv, v, equal_nan=True)):
                group.append(key)
                break
        else:
            groups.append([key])
    return groups


def hidden(values, *, log: bool) -> dict:
    """What a curve of ``values`` (S, K) (seeds, steps) does not show.

    Returns ``{"diverged": seeds whose last value is not finite, or with an inf anywhere
    (diverged runs), "zero_steps": indices k where the mean over the finite seeds is exactly 0
    (not drawable on a log axis; empty when not ``log``)}``. A NaN column that every seed
    shares (no value at step 0) is not a divergence.
    """
    v = np.asarray(values, float)
    v = v.reshape(-1, v.shape[-1]) if v.ndim else v.reshape(1, 1)
    diverged = int(np.sum(~np.isfinite(v[:, -1]) | np.isinf(v).any(axis=1)))
    zero_steps: list = []
    if log:
        finite = np.where(np.isfinite(v), v, np.nan)
        counted = np.isfinite(finite).any(axis=0)
        sums = np.nansum(finite, axis=0)
        zero_steps = [int(k) for k in np.flatnonzero(counted & (sums == 0))]
    return {"diverged": diverged, "zero_steps": zero_steps}


def uses_log_scale(arrays) -> bool:
    """Log scale when the finite values are >= 0 and the positive ones span more than a
    factor 20 (values exactly 0 are then not drawn, and ``hidden`` says where they were)."""
    vals = np.concatenate([np.ravel(np.asarray(a, float)) for a in arrays]) if arrays else \
        np.array([])
    vals = vals[np.isfinite(vals)]
    if not len(vals) or vals.min() < 0 or vals.max() <= 0:
        return False
    positive = vals[vals > 0]
    return bool(positive.max() / positive.min() > 20)
