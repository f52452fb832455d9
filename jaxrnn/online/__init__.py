"""Online gradient estimators for recurrent networks, each checked against the exact gradient.

Every estimator is a pure function with the interface of ``jaxrnn.grad.methods``:
``f(cell, params, xs, targets, loss, carry0=None, *, key=..., ...) -> grads`` (the params'
pytree), the gradient estimate for the whole sequence. The readout's gradient is exact in all
of them; they differ in how they estimate the cell's influence matrix ``M_t = ds_t/dθ``
(``common``). ``registry.resolve`` names them (the names of ``jaxrnn gradcheck --methods``):

============  =====  ==================  ====================  ==============================
name          cells  memory / sequence   time / step           bias
============  =====  ==================  ====================  ==============================
``rtrl_jac``  all    S·P (O(H³))         O(S²P) (O(H⁴))        none: exact (1e-10 vs BPTT)
``tbptt<k>``  all    k states            O(H²)                 paths longer than k cut
``uoro``      all    S + P (O(H²))       O(H²) (1 JVP + 1 VJP)  unbiased; high variance
``kfrtrl``    rnn    H² + K              O(H³)                 unbiased; lower variance
``snap<n>``   all    S·P, dense here*    O(S²P) here*          n=1 keeps direct paths only;
                                                               n≥2 = RTRL for a dense W_hh
``rflo``      rnn    H·K (O(H²))         O(H²)                 local traces, random feedback
``eprop``     rnn    H·K (O(H²))         O(H²)                 local traces (α=1: TBPTT(1))
============  =====  ==================  ====================  ==============================

S = H (2H for the LSTM), P = |θ| of the cell, K = H + D + 1. *SnAp stores its masked M
densely: its numbers are SnAp's, its cost is RTRL's (the sparse O(P) form is not built).

``STOCHASTIC`` lists those whose ``key`` changes the estimate; ``compare`` measures them
against the exact gradient (cosine, relative error, bias and variance over N draws).
"""
from __future__ import annotations

from jaxrnn.online.compare import compare_estimators, format_estimators, summarize
from jaxrnn.online.local import grad_eprop, grad_rflo
from jaxrnn.online.registry import NAMES, RNN_ONLY, STOCHASTIC, is_estimator, resolve, supports
from jaxrnn.online.rtrl import RTRL_MAX_ENTRIES, grad_rtrl_jac, grad_snap
from jaxrnn.online.tbptt import grad_tbptt
from jaxrnn.online.uoro import grad_kfrtrl, grad_uoro

__all__ = ["NAMES", "RNN_ONLY", "STOCHASTIC", "RTRL_MAX_ENTRIES", "compare_estimators",
           "format_estimators", "summarize", "is_estimator", "resolve", "supports",
           "grad_rtrl_jac", "grad_snap", "grad_tbptt", "grad_uoro", "grad_kfrtrl", "grad_rflo",
           "grad_eprop"]
