"""Scale: one model over many devices and hosts, with JAX's own ``jax.sharding`` and
``jax.distributed`` (``mesh``: data-parallel placement; ``distributed``: multi-host start-up)."""
