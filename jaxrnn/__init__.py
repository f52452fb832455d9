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

from jaxrnn.cells import (ACTIVATIONS, CELLS, GATES, Cell, LSTMCarry, get_cell, gru_step,
                          hidden_size, init_gru, init_lstm, init_readout, init_rnn, lstm_step,
                          readout, rnn_step)
from jaxrnn.initializers import INITIALIZERS, get_initializer
from jaxrnn.losses import (nats_to_bits, softmax_cross_entropy, squared_error_all_steps,
                           squared_error_last)
from jaxrnn.optim import make_optimizer, scale_by_rss_eps_outside
from jaxrnn.train import make_train_step, scan_steps
from jaxrnn.unroll import (detach, lengths_to_mask, unroll, unroll_bidirectional, unroll_stack,
                           unroll_tbptt, window_cuts)

__all__ = [
    "ACTIVATIONS", "CELLS", "GATES", "Cell", "LSTMCarry", "get_cell", "gru_step", "hidden_size",
    "init_gru", "init_lstm", "init_readout", "init_rnn", "lstm_step", "readout", "rnn_step",
    "INITIALIZERS", "get_initializer", "nats_to_bits", "softmax_cross_entropy",
    "squared_error_all_steps", "squared_error_last", "make_optimizer",
    "scale_by_rss_eps_outside", "make_train_step", "scan_steps", "detach", "lengths_to_mask",
    "unroll", "unroll_bidirectional", "unroll_stack", "unroll_tbptt", "window_cuts",
]
