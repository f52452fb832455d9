"""Online gradient estimators for recurrent networks, each checked against the exact gradient.

Every estimator is a pure function with the interface of ``jaxrnn.grad.methods``:
``f(cell, params, xs, targets, loss, carry0=None, *, key=..., ...) -> grads`` (the params'
pytree), the gradient estimate for the whole sequence. The readout's gradient is exact in all
of them; they differ in how they estimate the cell's influence matrix ``M_t = ds_t/dθ``
(``common``). ``ESTIMATORS`` names them (the names of ``jaxrnn gradcheck --methods``):

============  =============  ==================  ===================  ===========================
name          cells          memory / sequence   time / step          bias
============  =============  ==================  ===================  ===========================
``rtrl_jac``  all            S·P  (O(H³))        O(S²P) (O(H⁴))       exact (1e-10 vs BPTT)
``tbptt``     all            k states            O(H²)                truncation beyond k steps
``uoro``      all            S + P (O(H²))       O(H²) (1 JVP+1 VJP)  unbiased, high variance
``kfrtrl``    rnn            H² + K              O(H³)                unbiased, lower variance
``snap1``     all            S·P dense here*     O(S²P) here*         biased: only direct paths
``snap2``     all            S·P dense here*     O(S²P) here*         = RTRL for dense W_hh
``rflo``      rnn            H·K (O(H²))         O(H²)                biased: local, random B
``eprop``     rnn            H·K (O(H²))         O(H²)                biased: local (= TBPTT(1))
============  =============  ==================  ===================  ===========================

S = H (2H for the LSTM), P = |θ| of the cell, K = H + D + 1. *SnAp stores its masked M
densely: its numbers are SnAp's, its cost is RTRL's (the sparse O(P) form is not built).

``stochastic(name)`` says which take a ``key`` whose draw changes the estimate.
"""
from __future__ import annotations

import functools

from jaxrnn.online.local import grad_eprop, grad_rflo
from jaxrnn.online.rtrl import RTRL_MAX_ENTRIES, grad_rtrl_jac, grad_snap
from jaxrnn.online.tbptt import grad_tbptt
from jaxrnn.online.uoro import grad_kfrtrl, grad_uoro

TBPTT_K = 2  # the default k of the ``tbptt`` entry


def _keyless(f):
    @functools.wraps(f)
    def g(*args, key=None, **kwargs):
        del key
        return f(*args, **kwargs)
    return g


ESTIMATORS = {
    "rtrl_jac": _keyless(grad_rtrl_jac),
    "tbptt": functools.partial(grad_tbptt, k=TBPTT_K),
    "uoro": grad_uoro,
    "kfrtrl": grad_kfrtrl,
    "snap1": _keyless(functools.partial(grad_snap, n=1)),
    "snap2": _keyless(functools.partial(grad_snap, n=2)),
    "rflo": grad_rflo,
    "eprop": grad_eprop,
}
STOCHASTIC = ("uoro", "kfrtrl", "rflo")
RNN_ONLY = ("kfrtrl", "rflo", "eprop")


def supports(name: str, cell_name: str) -> bool:
    """Whether estimator ``name`` is defined for the cell called ``cell_name``."""
    return cell_name == "rnn" or name not in RNN_ONLY


__all__ = ["ESTIMATORS", "STOCHASTIC", "RNN_ONLY", "RTRL_MAX_ENTRIES", "TBPTT_K", "supports",
           "grad_rtrl_jac", "grad_snap", "grad_tbptt", "grad_uoro", "grad_kfrtrl", "grad_rflo",
           "grad_eprop"]
