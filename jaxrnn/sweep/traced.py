"""Vmappable training pieces for sweeps: hyperparameters as *traced* values, not Python constants.

A sweep batches runs with ``jax.vmap``, so anything that differs between the batched runs must
be an array inside the program. Three things the rest of jaxrnn takes as Python values get a
traced form here:

- the truncation window: ``traced_cuts`` and ``unroll_traced`` pass a traced ``k`` to the
  core's ``window_cuts`` / ``unroll`` (``k <= 0``: full BPTT);
- the clip value and the learning rate: passed straight to ``jaxrnn.optim.make_optimizer``,
  which accepts traced values (Optax scales and clips by arrays).

The diagnostics every sweep task records (``gradient_bias``, ``carry_grad_norms``) live in
``jaxrnn.grad.diagnostics``, the one place gradient maths is written.
"""
from __future__ import annotations

import jax.numpy as jnp

from jaxrnn.optim import make_optimizer
from jaxrnn.unroll import unroll as unroll_core
from jaxrnn.unroll import window_cuts


def traced_cuts(T: int, window, anchor: str = "start"):
    """(T,) bool cut mask for a window k that may be traced; ``k <= 0``: no cut (full BPTT).

    The rule lives in ``jaxrnn.unroll.window_cuts``; this only makes k an array.
    """
    return window_cuts(T, jnp.asarray(window, jnp.int32), anchor)


def unroll_traced(cell, params: dict, xs, window, *, anchor: str = "start", unroll: int = 1):
    """``unroll(cell, params, xs, window=k, anchor=anchor)`` with k a traced scalar.

    Args: cell from ``get_cell``; params the cell's; xs (T, [B,] D) float or (T, [B]) int;
      window: () int, ``<= 0`` for full BPTT.
    Returns: ``(ys (T, [B,] H), final carry)``; zero initial carry.
    """
    return unroll_core(cell, params, xs, window=jnp.asarray(window, jnp.int32), anchor=anchor,
                       unroll=unroll)


def traced_optimizer(cfg, hp: dict):
    """The optimiser of a sweep run: ``cfg``'s static rule and clip kind, with the traced
    ``hp["learning_rate"]`` and ``hp["clip_value"]`` (one compiled program for every value)."""
    return make_optimizer(cfg.optimizer, hp["learning_rate"], clip=cfg.clip,
                          clip_value=hp["clip_value"])
