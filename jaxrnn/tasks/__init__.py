"""Experiment families. Each has a frozen ``Config``, named ``PRESETS`` and ``main(cfg, out)``
(``demo``; ``sine/`` and ``char/`` as folders with one concern per module; ``memory``, the
adding problem as a sweep program), and trains through ``jaxrnn.train``."""
