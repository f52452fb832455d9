"""The estimators by name (``jaxrnn gradcheck --methods``, the study, online training).

Every entry is ``fn(cell, params, xs, targets, loss, carry0=None, *, key=None, window=None,
anchor="start") -> grads``; ``key`` matters only for the stochastic ones.
"""
from __future__ import annotations

import re

from jaxrnn.online.local import grad_eprop, grad_rflo, local_rule
from jaxrnn.online.rtrl import grad_rtrl_jac, grad_snap, influence_rule, snap_mask
from jaxrnn.online.tbptt import grad_tbptt
from jaxrnn.online.uoro import UORO, grad_kfrtrl, grad_uoro, kfrtrl_rule

STOCHASTIC = ("uoro", "kfrtrl", "rflo")
RNN_ONLY = ("kfrtrl", "rflo", "eprop")
NAMES = "rtrl_jac, uoro, kfrtrl, rflo, eprop, snap<n> (snap1, snap2, ...), tbptt<k> (tbptt2, ...)"


def _keyless(fn, **fixed):
    def estimate(*args, key=None, **kwargs):
        del key
        return fn(*args, **fixed, **kwargs)
    return estimate


def _tbptt(k):
    def estimate(*args, key=None, window=None, anchor="start"):
        del key, anchor
        if window is not None:
            raise ValueError(f"tbptt{k} sets its own truncation (window {k}); compare it on an "
                             f"untruncated problem (no --window)")
        return grad_tbptt(*args, k=k)
    return estimate


def resolve(name: str):
    """``(estimate, stochastic)`` for an estimator name (``NAMES``); ValueError otherwise."""
    fixed = {"uoro": grad_uoro, "kfrtrl": grad_kfrtrl, "rflo": grad_rflo, "eprop": grad_eprop,
             "rtrl_jac": _keyless(grad_rtrl_jac)}
    if name in fixed:
        return fixed[name], name in STOCHASTIC
    match = re.fullmatch(r"(snap|tbptt)([1-9][0-9]*)", str(name))
    if match:
        n = int(match[2])
        return (_keyless(grad_snap, n=n) if match[1] == "snap" else _tbptt(n)), False
    raise ValueError(f"unknown online estimator {name!r}; expected one of {NAMES}")


def is_estimator(name: str) -> bool:
    """Whether ``name`` names an estimator (``resolve`` accepts it)."""
    try:
        resolve(name)
    except ValueError:
        return False
    return True


def supports(name: str, cell_name: str) -> bool:
    """Whether estimator ``name`` is defined for the cell called ``cell_name``."""
    return cell_name == "rnn" or name not in RNN_ONLY


def resolve_rule(name: str, cell):
    """``(make_rule(fc) -> Rule, feedback)`` for online training with estimator ``name``;
    feedback "random" for RFLO (a fixed random matrix), None for the exact signal W_hy."""
    resolve(name)
    if not supports(name, cell.name):
        raise ValueError(f"{name} is defined for the vanilla RNN only; got cell {cell.name!r}. "
                         f"Use uoro, snap<n> or rtrl_jac for gated cells")
    if name.startswith("tbptt"):
        raise ValueError(f"{name} is not an online rule: train with method 'tbptt' and "
                         f"--every k instead")
    act = cell.activation
    if name == "uoro":
        return (lambda fc: UORO), None
    if name == "kfrtrl":
        return (lambda fc: kfrtrl_rule(act)), None
    if name in ("rflo", "eprop"):
        return (lambda fc: local_rule(act, 1.0)), ("random" if name == "rflo" else None)
    if name == "rtrl_jac":
        return (lambda fc: influence_rule()), None
    n = int(name[len("snap"):])
    return (lambda fc: influence_rule(snap_mask(fc, n))), None
