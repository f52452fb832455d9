"""Parallel-in-time evaluation of nonlinear RNNs, and their Lyapunov exponents.

- ``linear``: linear recurrences ``s_t = A_t s_{t-1} + b_t`` by ``lax.associative_scan``;
- ``newton``, ``elk``: the DEER / quasi-DEER / ELK fixed-point iterations over a trajectory;
- ``solve``: ``unroll_parallel`` (the sibling of ``jaxrnn.unroll``) with its implicit-function
  gradient (a ``custom_vjp`` whose adjoint is a backward parallel scan);
- ``lyapunov``: the Lyapunov spectrum by QR iteration over the step Jacobians, and the largest
  exponent, which predicts how many iterations the solve needs (Gonzalez et al., 2025).

Sits just above the core (imports ``cells`` and ``unroll`` only); ``grad`` may import it.
"""
from jaxrnn.parallel.linear import linear_recurrence, linear_recurrence_reverse
from jaxrnn.parallel.lyapunov import (largest_lyapunov, lyapunov_spectrum,
                                      trajectory_jacobians)
from jaxrnn.parallel.newton import METHODS
from jaxrnn.parallel.solve import ParallelInfo, unroll_parallel

__all__ = ["METHODS", "ParallelInfo", "largest_lyapunov", "linear_recurrence",
           "linear_recurrence_reverse", "lyapunov_spectrum", "trajectory_jacobians",
           "unroll_parallel"]
