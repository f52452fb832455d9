"""Gradient maths only: the hand-written BPTT (``manual_bptt``, ``manual_bptt_gates``), methods
independent of it (``methods``: autodiff of the scan and of a Python loop, forward mode, RTRL,
finite differences), the cross-check that compares them (``gradcheck``), gradient-flow
measurements (``diagnostics``) and the seeds' published backward passes (``seed_backward``)."""
