"""Online learning: ``main`` (train with an estimator while episodes stream) and ``study``
(estimators vs the exact gradient over memory horizons, learning curves, cost per step)."""
from jaxrnn.tasks.online.main import (PRESETS, TASKS, Config, add_arguments, episode_batch, fit,
                                      init_params, main)

__all__ = ["PRESETS", "TASKS", "Config", "add_arguments", "episode_batch", "fit", "init_params", "main"]
