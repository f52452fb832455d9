"""Ablation sweeps: many runs of a task as one vmapped, jitted, sharded program.

``contract`` (what a task gives the sweep: ``Program``, ``SweepTask``, the task registry),
``spec`` (grids and seeds from a file or the command line), ``runner`` (compile, run, save),
``traced`` (hyperparameters as traced values), ``report`` (tables over seeds), ``studies``
(the studies shipped in ``experiments/``). Each task's sweep program lives with the task
(``jaxrnn.tasks.sine.sweep``, ``jaxrnn.tasks.char.sweep``, ``jaxrnn.tasks.memory``).
"""
