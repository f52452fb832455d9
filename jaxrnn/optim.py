"""Optimisers by name, as Optax chains: clipping, then SGD / AdaGrad / Adam / RMSprop.

Update rules (g: the gradient after clipping, η: the learning rate):

- ``sgd``:      ``p -= η g``
- ``adagrad``:  ``a += g²``; ``p -= η g / sqrt(a + ε)`` (``eps_inside_sqrt=True``, min-char-rnn and
  optax) or ``p -= η g / (sqrt(a) + ε)`` (``False``, the "min-char" seed). ``a`` starts at
  ``initial_accumulator`` (default 0 as both seeds; optax's own default is 0.1, with ε = 1e-7).
- ``adam``:     Optax's Adam (``b1``, ``b2``, ``eps``).
- ``rmsprop``:  ``v = d v + (1 - d) g²``; ``p -= η g / (sqrt(v) + ε)`` (``decay`` d; Optax's form).

Clipping: ``"value"`` clips each element to ``[-c, c]`` (``optax.clip``, the seeds' code);
``"global_norm"`` rescales ``G -> c G / ||G||`` when ``||G|| > c`` over all params together
(``optax.clip_by_global_norm``, the "vlasov" text's formula); ``"none"``.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

OPTIMIZERS = ("sgd", "adagrad", "adam", "rmsprop")
CLIPS = ("none", "value", "global_norm")


class ScaleByRssOutsideState(NamedTuple):
    """Running sum of squared gradients."""

    sum_of_squares: optax.Updates


def scale_by_rss_eps_outside(initial_accumulator: float = 0.0, eps: float = 1e-8):
    """AdaGrad scaling with ε outside the square root: ``g / (sqrt(Σ g²) + ε)``.

    Args:
      initial_accumulator: starting value of the sum of squares.
      eps: added to the root, so a zero accumulator gives a zero update.
    Returns: an ``optax.GradientTransformation``.
    """

    def init_fn(params):
        return ScaleByRssOutsideState(
            jax.tree_util.tree_map(lambda p: jnp.full_like(p, initial_accumulator), params))

    def update_fn(updates, state, params=None):
        del params
        acc = jax.tree_util.tree_map(lambda g, a: a + g * g, updates, state.sum_of_squares)
        updates = jax.tree_util.tree_map(lambda g, a: g / (jnp.sqrt(a) + eps), updates, acc)
        return updates, ScaleByRssOutsideState(acc)

    return optax.GradientTransformation(init_fn, update_fn)


def _clipping(clip, clip_value):
    if clip not in CLIPS:
        raise ValueError(f"unknown clip {clip!r}; expected one of {', '.join(CLIPS)}")
    if clip == "none":
        return optax.identity()
    if clip_value is None:
        raise ValueError(f"clip={clip!r} needs a positive clip_value; got None")
    if not isinstance(clip_value, jax.core.Tracer) and not float(clip_value) > 0:
        raise ValueError(f"clip={clip!r} needs a positive clip_value; got {clip_value!r}")
    return optax.clip(clip_value) if clip == "value" else optax.clip_by_global_norm(clip_value)


def make_optimizer(name: str, learning_rate, *, clip: str = "none", clip_value=None,
                   eps: float = 1e-8, initial_accumulator: float = 0.0,
                   eps_inside_sqrt: bool = True, b1: float = 0.9, b2: float = 0.999,
                   decay: float = 0.9) -> optax.GradientTransformation:
    """An Optax chain ``clip -> scale by the rule of name -> scale by -learning_rate``.

    Args:
      name: "sgd", "adagrad", "adam" or "rmsprop" (rules in the module docstring).
      learning_rate: a float, an array (vmapped sweeps) or an optax schedule.
      clip: "none", "value" or "global_norm"; clip_value: c.
      eps, initial_accumulator, eps_inside_sqrt: AdaGrad (eps also Adam and RMSprop).
      b1, b2: Adam. decay: RMSprop's d.
    Returns: an ``optax.GradientTransformation``.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")
    if name == "sgd":
        rule = optax.identity()
    elif name == "adagrad" and eps_inside_sqrt:
        rule = optax.scale_by_rss(initial_accumulator_value=initial_accumulator, eps=eps)
    elif name == "adagrad":
        rule = scale_by_rss_eps_outside(initial_accumulator, eps)
    elif name == "adam":
        rule = optax.scale_by_adam(b1=b1, b2=b2, eps=eps)
    else:
        rule = optax.scale_by_rms(decay=decay, eps=eps, eps_in_sqrt=False)
    return optax.chain(_clipping(clip, clip_value), rule,
                       optax.scale_by_learning_rate(learning_rate))
