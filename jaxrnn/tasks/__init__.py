"""Experiment tasks. Each module has a frozen ``Config``, ``PRESETS`` and ``main(cfg, out)``."""
