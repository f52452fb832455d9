"""jaxrnn: recurrent neural networks from scratch in JAX.

Pure cells (``rnn_step``, ``lstm_step``, ``gru_step``) over plain dicts of params, unrolled with
``lax.scan`` (``unroll``), truncated BPTT by ``stop_gradient`` windows, Optax optimisers.

Axis letters, the same everywhere: T time, B batch, D input features, H hidden units,
V vocabulary, O outputs, G fused gate pre-activations (gates * H). Sequences are time-major:
(T, D) or (T, B, D).

Where things live (imports point down this list; ``tests/test_architecture.py`` keeps it so):

- ``jaxrnn.cli``: the ``jaxrnn`` command, one module per subcommand;
- ``jaxrnn.tasks`` (``demo``, ``sine/``, ``char/``, ``memory``) and ``jaxrnn.sweep``: experiments
  and vmapped ablation sweeps, all training through ``jaxrnn.train``;
- ``jaxrnn.io`` (configs, run directories, checkpoints) and ``jaxrnn.plots`` (figures from
  arrays or CSVs);
- ``jaxrnn.grad``: manual BPTT, independent gradient methods, gradcheck, diagnostics;
- ``jaxrnn.parallel``: parallel-in-time evaluation (DEER, quasi-DEER, ELK) and Lyapunov exponents;
- the core, at the top: ``cells``, ``initializers``, ``unroll``, ``rnn_backward``, ``losses``,
  ``model``, ``optim``, ``train``;
- ``jaxrnn.data``: series, text and memory tasks, knowing no model.
"""
__version__ = "0.1.0"

import sys
import types

# Public names -> the module that defines them, imported on first use (PEP 562), so that
# ``import jaxrnn`` (and ``jaxrnn --help``) does not pay for importing jax.
_EXPORTS = {
    "jaxrnn.cells": ("ACTIVATIONS", "CELLS", "GATES", "Cell", "LSTMCarry", "get_cell",
                     "gru_step", "hidden_size", "init_gru", "init_lstm", "init_readout",
                     "init_rnn", "lstm_step", "readout", "rnn_step"),
    "jaxrnn.initializers": ("INITIALIZERS", "get_initializer"),
    "jaxrnn.losses": ("nats_to_bits", "softmax_cross_entropy", "squared_error_all_steps",
                      "squared_error_last"),
    "jaxrnn.optim": ("make_optimizer", "scale_by_rss_eps_outside"),
    "jaxrnn.train": ("make_train_step", "scan_steps"),
    "jaxrnn.unroll": ("detach", "lengths_to_mask", "unroll", "unroll_bidirectional",
                      "unroll_stack", "unroll_tbptt", "window_cuts"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'jaxrnn' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *__all__])


class _Package(types.ModuleType):
    """Importing a submodule binds it on the package (``jaxrnn.unroll``), which would hide the
    public function of the same name; the function is bound instead, as an eager
    ``from jaxrnn.unroll import unroll`` here would have done."""

    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and _WHERE.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
