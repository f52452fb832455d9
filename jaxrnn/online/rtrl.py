"""Exact RTRL for every cell, and SnAp-n (its sparse n-step approximation).

RTRL (Williams & Zipser 1989) carries the influence matrix ``M_t = ds_t/dθ`` (S, P) forward::

    M_t = J_t M_{t-1} + I_t,      M = 0 where the carry entering step t is cut (and at t = 0)
    dL/dθ = Σ_t c_tᵀ M_t

with ``J_t``, ``I_t`` the Jacobians of ONE cell step (``common.step_jacobians``, ``jax.jacfwd``
of a single step, never of the unroll). Memory S·P per sequence (S = H, or 2H for the LSTM;
P = 4H² + … for the LSTM, so O(H³)); time per step O(S² P) = O(H⁴) for the product ``J M``
(plus P JVPs for ``I``). ``RTRL_MAX_ENTRIES`` bounds S·P.

SnAp-n (Menick et al. 2020) keeps only the entries of M that θ can reach within n steps::

    P_1 = pattern(I),   P_n = P_1 ∨ (pattern(J) P_{n-1}),   M_t = (J_t M_{t-1}) ⊙ P_n + I_t

The patterns are the non-zero entries of J and I at 8 random probe states and inputs (their
union: a ReLU unit is missed only if it is off at all 8). Since M_t's support lies in P_t,
SnAp-n is exact RTRL for n ≥ T. SnAp-1 keeps, for each parameter, only the units it enters
directly (W_hh[j, k] → unit j): for the vanilla RNN the product then only uses J's diagonal,
``M_t[j, (j,k)] = J_t[j, j] M_{t-1}[j, (j,k)] + I_t[j, (j,k)]``, i.e. SnAp-1 is exact RTRL of the
network with every off-diagonal recurrent Jacobian entry dropped (exact when W_hh is
diagonal). For a dense W_hh every unit reaches every other in one step, so SnAp-2 = RTRL;
SnAp-2 differs from RTRL only for sparse recurrent weights (zeros in W_hh), as Menick et al.
use them. This implementation stores the masked M densely (cost as RTRL): it measures SnAp's
*bias*, not its sparse cost O(P) (SnAp-1) / O(P·d) (SnAp-2, d the density).

References: Williams & Zipser, Neural Computation 1989; Menick, Elsen, Evci, Osindero, Simonyan
& Graves, "Practical real time recurrent learning with a sparse approximation", ICLR 2021
(arXiv:2006.07232, 2020).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxrnn.cells import hidden_size
from jaxrnn.online.common import Rule, check_size, estimate, flat_cell, step_jacobians

RTRL_MAX_ENTRIES = 1 << 21  # S·P per sequence: 16 MiB in float64 (LSTM H≈55, RNN H≈128)
PROBES = 8


def influence_rule(mask=None) -> Rule:
    """RTRL (mask None) or SnAp (mask (S, P) bools) as a ``Rule``."""
    def init(fc, p):
        return jnp.zeros((fc.S, fc.theta.size), fc.theta.dtype)

    def update(fc, p, M, x, s, c, noise):
        J, I = step_jacobians(fc, s, x)
        JM = J @ M
        M = (JM if mask is None else jnp.where(mask, JM, 0.0)) + I
        return M, fc.unravel(c @ M)

    return Rule(init, update)


def check_influence_size(cell, cell_params, name="rtrl_jac"):
    """ValueError when the influence matrix (S, P) has more than ``RTRL_MAX_ENTRIES`` entries."""
    H = hidden_size(cell_params)
    S = 2 * H if cell.name == "lstm" else H
    P = sum(v.size for v in jax.tree_util.tree_leaves(cell_params))
    check_size(name, S * P, RTRL_MAX_ENTRIES,
               "use a smaller --hidden (the influence matrix is S x P, O(H^3) numbers)")


@functools.partial(jax.jit, static_argnames=("cell", "loss", "window", "anchor"))
def grad_rtrl_jac(cell, params, xs, targets, loss, carry0=None, *, window=None, anchor="start"):
    """Exact RTRL for any cell from one-step Jacobians (module docstring); float64-exact.

    Args: as ``jaxrnn.grad.methods`` (cell, params ``{"cell", "readout"}``, xs (T, [B,] D) or
      int (T, [B]), targets, loss name, carry0, window/anchor truncation).
    Returns: the gradient pytree of params. Raises ValueError past ``RTRL_MAX_ENTRIES``.
    """
    check_influence_size(cell, params["cell"])
    return estimate(influence_rule(), cell, params, xs, targets, loss, carry0, window, anchor,
                    None)


def snap_mask(fc, n, key=None):
    """SnAp-n's pattern P_n (S, P) bools (module docstring), from ``PROBES`` random probes."""
    key = jax.random.PRNGKey(0) if key is None else key
    k_s, k_x = jax.random.split(key)
    D = next(v.shape[1] for k, v in fc.unravel(fc.theta).items() if k.startswith("W_x"))
    s = jax.random.normal(k_s, (PROBES, fc.S), fc.theta.dtype)
    x = jax.random.normal(k_x, (PROBES, D), fc.theta.dtype)
    J, I = jax.vmap(lambda s, x: step_jacobians(fc, s, x))(s, x)
    J_pat = jnp.any(J != 0, 0).astype(fc.theta.dtype)  # (S, S)
    P1 = jnp.any(I != 0, 0)  # (S, P)
    return lax.fori_loop(1, n, lambda _, P: P1 | ((J_pat @ P.astype(J_pat.dtype)) > 0), P1)


def check_n(n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"SnAp-n needs an int n >= 1; got {n!r}")


def grad_snap(cell, params, xs, targets, loss, carry0=None, *, n=1, window=None,
              anchor="start"):
    """SnAp-n: RTRL with M masked to the entries reachable in n steps (module docstring).

    Args: as ``grad_rtrl_jac``, plus n >= 1 (an int; one compilation serves every n).
    Returns: the gradient estimate pytree.
    """
    check_n(n)
    return _grad_snap(cell, params, xs, targets, loss, carry0, jnp.asarray(n), window, anchor)


@functools.partial(jax.jit, static_argnames=("cell", "loss", "window", "anchor"))
def _grad_snap(cell, params, xs, targets, loss, carry0, n, window, anchor):
    check_influence_size(cell, params["cell"], "snap")
    mask = snap_mask(flat_cell(cell, params["cell"]), n)
    return estimate(influence_rule(mask), cell, params, xs, targets, loss, carry0, window,
                    anchor, None)
