"""The jitted train step shared by the experiments.

``make_train_step(loss_fn, optimizer)`` builds ``step(params, opt_state, batch) -> (params,
opt_state, metrics)`` where ``loss_fn(params, batch) -> (loss, aux)``. The step is pure, so it
can be jitted once, scanned over samples (per-sample SGD as one ``lax.scan``), or vmapped over
seeds and hyperparameters (sweeps).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def global_norm(tree) -> jax.Array:
    """sqrt of the sum of squares of every leaf."""
    return optax.tree.norm(tree)


def make_train_step(loss_fn, optimizer: optax.GradientTransformation):
    """A pure train step: gradient of ``loss_fn``, the optimiser update, and metrics.

    Args:
      loss_fn: ``(params, batch) -> (loss, aux)`` with a scalar loss.
      optimizer: an optax transformation (``make_optimizer``).
    Returns:
      ``step(params, opt_state, batch) -> (params, opt_state, {"loss", "grad_norm", **aux})``.
      ``grad_norm`` is the global norm of the gradient before clipping.
    """

    def step(params, opt_state, batch):
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, opt_state, {"loss": loss, "grad_norm": global_norm(grads), **aux}

    return step


def scan_steps(step, params, opt_state, batches):
    """Runs ``step`` over the leading axis of ``batches`` in one ``lax.scan``.

    Returns ``(params, opt_state, metrics)`` with every metric stacked over the steps.
    """

    def body(state, batch):
        params, opt_state, metrics = step(*state, batch)
        return (params, opt_state), metrics

    (params, opt_state), metrics = jax.lax.scan(body, (params, opt_state), batches)
    return params, opt_state, metrics


def is_finite(x) -> jax.Array:
    """True when every element of x is finite."""
    return jnp.all(jnp.isfinite(x))
