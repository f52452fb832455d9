"""Weight initialisers by name: the seeds' schemes and modern defaults.

Every initialiser has the signature ``init(key, shape, dtype) -> Array``. A name can carry a
scale in parentheses, e.g. ``"normal(0.05)"`` or ``"identity(0.5)"``; without one the default
scale below is used.

=================  ==============================================  =========================
name               distribution                                    used by
=================  ==============================================  =========================
``uniform01``      ``U(0, 1)``                                     vidhya (all weights)
``randn001``       ``N(0, 1) * 0.01`` (``normal(s)``: ``N(0,1)*s``)  vlasov, min-char(-rnn)
``identity001``    ``0.01 * I`` (``identity(s)``: ``s * I``)       min-char ``W_hh``
``uniform008``     ``U(-0.08, 0.08)`` (``uniform(a)``: ``U(-a,a)``)  char-rnn
``glorot``         Glorot/Xavier uniform, ``U(±sqrt(6/(in+out)))``  modern input weights
``orthogonal``     a random orthogonal matrix (QR of a Gaussian)     modern recurrent weights
``zeros``          zeros                                           biases
=================  ==============================================  =========================
"""
from __future__ import annotations

import re

import jax
import jax.numpy as jnp


def _uniform01(key, shape, dtype):
    return jax.random.uniform(key, shape, dtype, 0.0, 1.0)


def _normal(scale):
    return lambda key, shape, dtype: scale * jax.random.normal(key, shape, dtype)


def _uniform(scale):
    return lambda key, shape, dtype: jax.random.uniform(key, shape, dtype, -scale, scale)


def _identity(scale):
    def init(key, shape, dtype):
        del key
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"identity initialiser needs a square matrix, got shape {shape}")
        return scale * jnp.eye(shape[0], dtype=dtype)

    return init


def _zeros(key, shape, dtype):
    del key
    return jnp.zeros(shape, dtype)


_FIXED = {
    "uniform01": _uniform01,
    "randn001": _normal(0.01),
    "identity001": _identity(0.01),
    "uniform008": _uniform(0.08),
    "glorot": jax.nn.initializers.glorot_uniform(),
    "orthogonal": jax.nn.initializers.orthogonal(),
    "zeros": _zeros,
}
_SCALED = {"normal": _normal, "uniform": _uniform, "identity": _identity}
INITIALIZERS = tuple(_FIXED) + tuple(f"{name}(s)" for name in _SCALED)


def get_initializer(name: str):
    """Returns the initialiser called ``name`` (see the module table).

    Raises:
      ValueError: for an unknown name, listing the valid ones.
    """
    if not isinstance(name, str):
        raise TypeError(f"initialiser must be a name (str), got {type(name).__name__}: {name!r}")
    if name in _FIXED:
        return _FIXED[name]
    match = re.fullmatch(r"(\w+)\(([^)]+)\)", name.strip())
    if match and match.group(1) in _SCALED:
        try:
            scale = float(match.group(2))
        except ValueError:
            raise ValueError(f"initialiser {name!r}: the scale must be a number") from None
        return _SCALED[match.group(1)](scale)
    raise ValueError(f"unknown initialiser {name!r}; expected one of {', '.join(INITIALIZERS)}")
