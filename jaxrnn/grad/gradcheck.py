"""Gradient cross-validation: one loss's gradient by every method, compared with manual BPTT.

``gradcheck(...)`` builds a small random problem (``make_problem``), computes the gradient by the
hand-written BPTT (``jaxrnn.grad.manual_bptt``, the reference) and by every applicable independent
method (``jaxrnn.grad.methods``), and reports, per method and per parameter leaf::

    max_abs = max_i |g_i - g_ref,i|
    rel     = max_abs / max(max_i |g_ref,i|, 1e-3 max_all |g_ref|)

(the floor keeps a leaf whose reference is all zeros from dividing by zero; it is measured
against the whole gradient's scale). A method passes when every leaf's ``rel`` is within
``TOLERANCES[dtype]``: float64 1e-10 for the exact methods (autodiff, forward, RTRL) and 1e-6 for
finite differences; float32 1e-4 for all. Finite differences run only when nothing is truncated
(see ``jaxrnn.grad.methods``); RTRL only for the vanilla RNN. ``deer`` (opt-in, in ``OPT_IN``
rather than ``METHODS``: ``methods=[..., "deer"]``) differentiates the parallel-in-time
evaluation (``jaxrnn.grad.implicit``), float64 1e-8, untruncated problems without lengths or
resets only. For the ReLU RNN, the entries whose finite difference straddles a kink
(``jaxrnn.grad.kinks``) are reported as non-differentiable here, counted, and left out of the
finite-difference comparison (the exact methods still compare them: they agree on
relu'(0) = 0).

Problems may have variable lengths and resets (``make_problem(lengths=, resets=)``): every method
and the manual BPTT get them.

Bring your own backward pass: ``gradcheck(manual=my_grad_fn)`` checks ``my_grad_fn(cell, params,
xs, targets, loss, carry0, window=, anchor=[, lengths=, resets=]) -> grads`` instead of
``manual_bptt`` (lengths and resets passed only when the problem has them); ``corrupt=s``
adds ``s * max|g|`` to one entry of the reference's recurrent-weight gradient (to see a wrong
gradient caught).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrnn.cells import get_cell
from jaxrnn.grad.implicit import grad_deer
from jaxrnn.grad.kinks import kink_entries
from jaxrnn.grad.methods import (FD_EPS, grad_autodiff_loop, grad_autodiff_scan,
                                 grad_finite_diff, grad_forward, grad_rtrl)
from jaxrnn.grad.manual_bptt import SQUARED_LOSSES, manual_bptt
from jaxrnn.model import LOSSES, init_model
from jaxrnn.unroll import ANCHORS

METHODS = {"autodiff_scan": grad_autodiff_scan, "autodiff_loop": grad_autodiff_loop,
           "forward": grad_forward, "rtrl": grad_rtrl, "finite_diff": grad_finite_diff}
OPT_IN = {"deer": grad_deer}  # run only when named in ``methods`` / ``--methods``
ALL_METHODS = {**METHODS, **OPT_IN}
DTYPES = ("float64", "float32")
TOLERANCES = {"float64": {"exact": 1e-10, "finite_diff": 1e-6, "deer": 1e-8},
              "float32": {"exact": 1e-4, "finite_diff": 1e-4, "deer": 1e-4}}
REL_FLOOR = 1e-3


class Problem(NamedTuple):
    """A gradient problem: ``sequence_loss(cell, params, xs, targets, loss, carry0, window=,
    anchor=, lengths=, resets=)``; lengths (B,) ints and resets (T, [B]) bools or None."""

    cell: Any
    params: dict
    xs: jax.Array
    targets: jax.Array
    loss: str
    carry0: Any = None
    window: int | None = None
    anchor: str = "start"
    lengths: Any = None
    resets: Any = None

    def flags(self) -> dict:
        """The problem's ``lengths``/``resets`` as keyword arguments (only those it has)."""
        return {k: v for k, v in (("lengths", self.lengths), ("resets", self.resets))
                if v is not None}


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")


def _draw(rng, shape):
    """A weight (out, in) ~ N(0, 1/in), a bias ~ N(0, 0.3²)."""
    if len(shape) == 2:
        return rng.normal(size=shape) / np.sqrt(shape[1])
    return 0.3 * rng.normal(size=shape)


def make_problem(cell="rnn", activation="tanh", loss="all_steps", *, window=None,
                 anchor="start", hidden=4, steps=8, batch=3, inputs=3, outputs=2,
                 dtype="float64", seed=0, bias=True, random_carry=False, lengths=None,
                 resets=None) -> Problem:
    """A small random problem with the params' structure of ``init_model``: weights (out, in)
    ~ N(0, 1/in), biases ~ N(0, 0.3²) (non-zero, so their gradients matter), float inputs
    N(0, 1) (T, [B,] D) for the squared losses, int inputs in [0, D) (one-hot, as a character
    model) for cross-entropy, random targets. Drawn with ``numpy.random.default_rng(seed)``
    rather than ``jax.random``: no compilation per shape, which keeps a sweep over every
    combination fast.

    ``batch=0`` gives unbatched arrays; ``bias=False`` drops b_h (RNN) and b_y; ``random_carry``
    starts from a random carry0 (a streamed window's carried state). ``lengths``: "random"
    (uniform in [1, T] per sequence) or B ints; ``resets``: "random" (each step and sequence
    with probability 1/4) or a list of steps where every sequence's carry is reset. Both are
    drawn after everything else, so the rest of the problem does not change with them.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}; got {dtype!r}")
    if dtype == "float64" and not jax.config.jax_enable_x64:
        raise ValueError("dtype float64 needs jax_enable_x64: call "
                         "jax.config.update('jax_enable_x64', True) first, or use float32")
    if anchor not in ANCHORS:
        raise ValueError(f"anchor must be one of {ANCHORS}; got {anchor!r}")
    for name, value, lo in (("hidden", hidden, 1), ("steps", steps, 1), ("batch", batch, 0),
                            ("inputs", inputs, 1), ("outputs", outputs, 1), ("seed", seed, 0)):
        _check_int(name, value, lo)
    if window is not None:
        _check_int("window", window, 1)
    c = get_cell(cell, activation)
    dt = jnp.dtype(dtype)
    rng = np.random.default_rng(seed)
    shapes = jax.eval_shape(lambda: init_model(
        jax.random.PRNGKey(0), cell, inputs, hidden, outputs, activation=activation,
        cell_kwargs={"bias": bias} if cell == "rnn" else None, readout_bias=bias, dtype=dt))
    params = jax.tree_util.tree_map(lambda s: jnp.asarray(_draw(rng, s.shape), dt), shapes)
    batch_shape = (batch,) if batch else ()
    if loss in SQUARED_LOSSES:
        xs = jnp.asarray(rng.normal(size=(steps,) + batch_shape + (inputs,)), dt)
        targets = jnp.asarray(rng.normal(size=batch_shape + (outputs,)), dt)
    else:
        xs = jnp.asarray(rng.integers(0, inputs, (steps,) + batch_shape))
        targets = jnp.asarray(rng.integers(0, outputs, (steps,) + batch_shape))
    carry0 = None
    if random_carry:
        zeros = c.init_carry(params["cell"], batch_shape, dt)
        carry0 = jax.tree_util.tree_map(
            lambda z: jnp.asarray(0.5 * rng.normal(size=z.shape), dt), zeros)
    lengths = _draw_lengths(rng, lengths, steps, batch)
    resets = _draw_resets(rng, resets, steps, batch_shape)
    return Problem(c, params, xs, targets, loss, carry0, window, anchor, lengths, resets)


def _draw_lengths(rng, lengths, steps, batch):
    if lengths is None:
        return None
    if not batch:
        raise ValueError("lengths need a batch (batch >= 1): one length per sequence")
    if isinstance(lengths, str) and lengths == "random":
        return jnp.asarray(rng.integers(1, steps + 1, batch))
    values = [int(v) for v in lengths]
    if len(values) != batch or min(values) < 0 or max(values) > steps:
        raise ValueError(f"lengths must be {batch} ints in [0, steps={steps}] (one per "
                         f"sequence), or 'random'; got {lengths!r}")
    return jnp.asarray(values)


def _draw_resets(rng, resets, steps, batch_shape):
    if resets is None:
        return None
    if isinstance(resets, str) and resets == "random":
        return jnp.asarray(rng.random((steps,) + batch_shape) < 0.25)
    at = [int(t) for t in resets]
    if any(t < 0 or t >= steps for t in at):
        raise ValueError(f"reset steps must be in [0, steps={steps}); got {resets!r}")
    return jnp.zeros((steps,), bool).at[jnp.asarray(at, int)].set(True)


def _truncates(problem) -> bool:
    return problem.window is not None and problem.window < problem.xs.shape[0]


def skipped_methods(problem, methods=None) -> dict:
    """{method: why it does not apply} for the requested (default: ``METHODS``) methods."""
    skipped = {}
    for name in methods or METHODS:
        if name not in ALL_METHODS:
            raise ValueError(f"unknown method {name!r}; expected some of "
                             f"{', '.join(ALL_METHODS)}")
        if name == "rtrl" and problem.cell.name != "rnn":
            skipped[name] = "RTRL is implemented for the vanilla RNN only"
        if name == "finite_diff" and _truncates(problem):
            skipped[name] = "finite differences cannot see stop_gradient (truncated window)"
        if name == "finite_diff" and not jax.config.jax_enable_x64:
            skipped[name] = "finite differences need jax_enable_x64"
        if name == "deer" and (_truncates(problem) or problem.flags()):
            skipped[name] = "DEER solves whole sequences: no truncation, lengths or resets"
    return skipped


def manual_grads(cell, params, xs, targets, loss, carry0=None, *, window=None, anchor="start",
                 **flags):
    """The reference: ``manual_bptt(...).grads`` (flags: lengths, mask, resets)."""
    return manual_bptt(cell, params, xs, targets, loss, carry0, window=window, anchor=anchor,
                       **flags).grads


def corrupt_gradient(grads: dict, scale: float) -> dict:
    """A deliberately wrong copy of ``grads``: ``scale * max|g|`` added to entry [0, 0] of the
    cell's first recurrent weight (W_hh, W_hi or W_hr)."""
    cell = dict(grads["cell"])
    name = next(k for k in ("W_hh", "W_hi", "W_hr") if k in cell)
    g = jnp.asarray(cell[name])
    cell[name] = g.at[0, 0].add(scale * jnp.max(jnp.abs(g)))
    return {"cell": cell, "readout": grads["readout"]}


def compute_gradients(problem: Problem, methods=None, manual: Callable | None = None):
    """``({"manual": grads, method: grads, ...}, {skipped method: reason})``."""
    skipped = skipped_methods(problem, methods)
    args = problem[:6]
    kwargs = dict(window=problem.window, anchor=problem.anchor, **problem.flags())
    grads = {"manual": (manual or manual_grads)(*args, **kwargs)}
    for name in methods or METHODS:
        if name not in skipped:
            grads[name] = ALL_METHODS[name](*args, **kwargs)
    return grads, skipped


def non_differentiable(problem: Problem):
    """Bool pytree like the params: entries whose finite difference straddles a ReLU kink
    (``jaxrnn.grad.kinks``), or None for a smooth cell."""
    valid = None
    if problem.lengths is not None:
        valid = jnp.arange(problem.xs.shape[0])[:, None] < problem.lengths[None, :]
    resets = problem.resets
    if resets is not None and resets.ndim == 1 and problem.xs.ndim > 1 + (
            not jnp.issubdtype(problem.xs.dtype, jnp.integer)):
        resets = jnp.broadcast_to(resets[:, None], problem.xs.shape[:2])
    return kink_entries(problem.cell, problem.params, problem.xs, problem.carry0, FD_EPS,
                        valid=valid, resets=resets)


def _leaves_with_paths(tree):
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [("/".join(str(getattr(k, "key", k)) for k in path), leaf) for path, leaf in flat]


def compare(grads: dict, dtype: str = "float64", reference: str = "manual",
            exclude: dict | None = None) -> list:
    """Rows ``{method, param, max_abs, rel, ref_max, tol, ok}`` of every method against the
    reference, leaf by leaf (errors computed in float64 numpy). ``exclude``: {method: bool
    pytree like the grads}; True entries are left out of that method's errors, and its rows
    get ``excluded``, their count."""
    ref = [(p, np.asarray(g, np.float64)) for p, g in _leaves_with_paths(grads[reference])]
    scale = max(float(np.max(np.abs(g), initial=0.0)) for _, g in ref)
    rows = []
    for method, tree in grads.items():
        if method == reference:
            continue
        tol = TOLERANCES[dtype].get(method, TOLERANCES[dtype]["exact"])
        leaves = _leaves_with_paths(tree)
        if [p for p, _ in leaves] != [p for p, _ in ref]:
            raise ValueError(f"method {method!r} returned leaves {[p for p, _ in leaves]}; "
                             f"the reference has {[p for p, _ in ref]} (same pytree needed)")
        skip = [np.zeros(g.shape, bool) for _, g in ref]
        if (exclude or {}).get(method) is not None:
            skip = [np.asarray(s, bool) for _, s in _leaves_with_paths(exclude[method])]
        for (path, g_ref), (_, g), out in zip(ref, leaves, skip):
            diff = np.where(out, 0.0, np.abs(np.asarray(g, np.float64) - g_ref))
            max_abs = float(np.max(diff, initial=0.0))
            ref_max = float(np.max(np.abs(g_ref), initial=0.0))
            denom = max(ref_max, REL_FLOOR * scale, np.finfo(np.float64).tiny)
            rel = max_abs / denom
            rows.append({"method": method, "param": path, "max_abs": max_abs, "rel": rel,
                         "ref_max": ref_max, "tol": tol, "ok": bool(rel <= tol),
                         "excluded": int(out.sum())})
    return rows


@dataclasses.dataclass
class GradcheckReport:
    """The result of ``gradcheck``: settings, loss value, comparison rows, skipped methods."""

    settings: dict
    loss: float
    rows: list
    skipped: dict
    non_differentiable: dict = dataclasses.field(default_factory=dict)  # {param: entries}

    @property
    def passed(self) -> bool:
        return all(r["ok"] for r in self.rows)

    def worst(self) -> dict:
        """{method: {"rel", "max_abs", "tol", "ok"}}: each method's worst leaf."""
        out = {}
        for r in self.rows:
            w = out.setdefault(r["method"], {"rel": 0.0, "max_abs": 0.0, "tol": r["tol"],
                                             "ok": True})
            w["rel"], w["max_abs"] = max(w["rel"], r["rel"]), max(w["max_abs"], r["max_abs"])
            w["ok"] = w["ok"] and r["ok"]
        return out

    def to_dict(self) -> dict:
        return {"settings": self.settings, "loss": self.loss, "passed": self.passed,
                "worst": self.worst(), "rows": self.rows, "skipped": self.skipped,
                "non_differentiable": self.non_differentiable}


def gradcheck(cell="rnn", activation="tanh", loss="all_steps", *, window=None, anchor="start",
              hidden=4, steps=8, batch=3, inputs=3, outputs=2, dtype="float64", seed=0,
              bias=True, random_carry=False, lengths=None, resets=None, methods=None,
              manual=None, corrupt=0.0) -> GradcheckReport:
    """Cross-validates the gradient of one random problem (``make_problem``'s arguments) by every
    applicable method (``methods``: names from ``ALL_METHODS``, default all of ``METHODS``)
    against the manual BPTT
    (or ``manual``, a function like ``manual_grads``), optionally ``corrupt``-ed.

    Returns: a ``GradcheckReport``; ``.passed`` is False when any leaf exceeds its tolerance;
    ``.non_differentiable`` counts, per leaf, the entries at a ReLU kink that finite
    differences skipped; the drawn lengths and resets are in ``.settings``.
    """
    settings = dict(cell=cell, activation=activation, loss=loss, window=window, anchor=anchor,
                    hidden=hidden, steps=steps, batch=batch, inputs=inputs, outputs=outputs,
                    dtype=dtype, seed=seed, bias=bias, random_carry=random_carry,
                    lengths=lengths, resets=resets)
    problem = make_problem(**settings)
    for name in ("lengths", "resets"):
        value = getattr(problem, name)
        settings[name] = None if value is None else np.asarray(value).astype(int).tolist()
    if corrupt:
        base = manual or manual_grads

        def manual(*args, **kwargs):
            return corrupt_gradient(base(*args, **kwargs), corrupt)

        settings["corrupt"] = corrupt
    return check_problem(problem, settings, methods, manual)


def check_problem(problem: Problem, settings: dict, methods=None,
                  manual=None) -> GradcheckReport:
    """``gradcheck`` of a given problem (one of ``make_problem``'s, maybe edited: zeroed units,
    a kink); settings: what the report shows, with at least ``dtype``."""
    grads, skipped = compute_gradients(problem, methods, manual)
    value = manual_bptt(*problem[:6], window=problem.window, anchor=problem.anchor,
                        **problem.flags()).loss
    kinks = non_differentiable(problem) if "finite_diff" in grads else None
    rows = compare(grads, settings["dtype"], exclude={"finite_diff": kinks})
    counts = {r["param"]: r["excluded"] for r in rows if r["excluded"]}
    return GradcheckReport(settings, float(value), rows, skipped, counts)
