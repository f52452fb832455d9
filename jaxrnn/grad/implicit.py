"""The gradient through a parallel-in-time evaluation (``gradcheck``'s ``deer`` column).

``grad_deer`` is ``jax.grad`` of the model's named loss with the hidden states from
``jaxrnn.parallel.unroll_parallel(method="deer")``: the forward pass is Newton's iteration, the
backward pass the implicit-function adjoint (a backward parallel scan), sharing no code with
``lax.scan``'s transpose or the manual BPTT. It is exact when the iteration has converged, which
the tolerance below (~100 ε) and a cap of T iterations guarantee on gradcheck's problems.
Untruncated, unpadded, reset-free losses only.
"""
from __future__ import annotations

import functools

import jax

from jaxrnn.model import get_loss, readouts
from jaxrnn.parallel import unroll_parallel


@functools.partial(jax.jit, static_argnames=("cell", "loss", "window", "anchor", "method"))
def grad_deer(cell, params, xs, targets, loss, carry0=None, *, window=None, anchor="start",
              lengths=None, mask=None, resets=None, method="deer"):
    """``d loss / d params`` with the states by ``unroll_parallel`` (module docstring).

    Raises ValueError for a window that cuts (window < T), lengths, mask or resets.
    """
    del anchor
    if window is not None and window >= xs.shape[0]:
        window = None  # a window of T or more steps cuts nothing: full BPTT

    def f(p):
        hs, _, _ = unroll_parallel(cell, p["cell"], xs, carry0, method=method, window=window,
                                   lengths=lengths, mask=mask, resets=resets)
        return get_loss(loss)(readouts(p["readout"], hs), targets)

    return jax.grad(f)(params)
