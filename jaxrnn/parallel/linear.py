"""Linear recurrences ``s_t = A_t s_{t-1} + b_t`` in O(log T) depth by ``lax.associative_scan``.

Each step is an affine map ``s -> A_t s + b_t``. Composing two maps (the earlier one first) is
again affine::

    (A_2, b_2) ∘ (A_1, b_1) = (A_2 A_1, A_2 b_1 + b_2)

and composition is associative, so the prefix compositions of all T maps (hence every s_t) come
out of one parallel prefix scan (Blelloch 1990): O(T) work of S×S matmuls (full) or elementwise
products (diagonal), O(log T) sequential depth. This is the inner solve of every Newton step of
DEER and the adjoint of its gradient (``jaxrnn.parallel.solve``).

References: Blelloch, 1990, "Prefix sums and their applications"; Lim et al., 2024 (DEER), §3.
"""
from __future__ import annotations

import jax.numpy as jnp
from jax import lax


def _compose_full(earlier, later):
    A1, b1 = earlier
    A2, b2 = later
    return A2 @ A1, jnp.einsum("...ij,...j->...i", A2, b1) + b2


def _compose_diagonal(earlier, later):
    a1, b1 = earlier
    a2, b2 = later
    return a2 * a1, a2 * b1 + b2


def linear_recurrence(A, b, s0):
    """All states of ``s_t = A_t s_{t-1} + b_t``, t = 1..T, from ``s0``, by a parallel scan.

    Args:
      A: (T, S, S) full transition matrices, or (T, S) diagonal ones (``A_t = diag(a_t)``).
      b: (T, S) offsets. s0: (S,) the state before the first step.
    Returns: (T, S) states ``s_1 .. s_T``.
    """
    diagonal = A.ndim == b.ndim
    if diagonal:
        b = b.at[0].add(A[0] * s0)
        return lax.associative_scan(_compose_diagonal, (A, b))[1]
    b = b.at[0].add(A[0] @ s0)
    return lax.associative_scan(_compose_full, (A, b))[1]


def linear_recurrence_reverse(A, g):
    """The adjoint ``λ_t = g_t + A_{t+1}ᵀ λ_{t+1}``, ``λ_T = g_T``, by a parallel scan.

    Args: A: (T, S, S) the forward transitions ``A_t`` (``A_1`` is not used); g: (T, S).
    Returns: (T, S) ``λ_1 .. λ_T``.
    """
    M = jnp.swapaxes(A[1:], -1, -2)[::-1]  # (T-1, S, S): A_Tᵀ .. A_2ᵀ
    M = jnp.concatenate([jnp.zeros_like(A[:1]), M])  # the first reversed step starts from 0
    return linear_recurrence(M, g[::-1], jnp.zeros_like(g[0]))[::-1]
