"""The sine task: ``config`` (Config and presets), ``fit`` (params, loss, jitted chunk),
``main`` (data, training, run directory: ``jaxrnn sine``), ``score`` (held-out scores next to the
``baselines``, closed-loop ``forecast``), ``report`` (the ``jaxrnn reproduce`` section) and
``sweep`` (the task as a vmappable sweep program)."""
