"""TBPTT(k), the baseline the online estimators are compared with.

The carry is detached every k steps from the start (``window=k, anchor="start"`` of
``jaxrnn.unroll``): the gradient of each step's loss flows back to the start of its window only.
Cost O(k) memory of states, O(H²) a step; biased for dependencies longer than k.
"""
from __future__ import annotations

from jaxrnn.grad.methods import grad_autodiff_scan


def grad_tbptt(cell, params, xs, targets, loss, carry0=None, *, k: int, key=None):
    """``jax.grad`` of the loss with the carry cut every k steps (``key`` unused)."""
    del key
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"TBPTT(k) needs an int k >= 1; got {k!r}")
    return grad_autodiff_scan(cell, params, xs, targets, loss, carry0, window=k, anchor="start")
