"""The sine task's engine: params, the loss, the epoch, the jitted training chunk, evaluation.

One epoch function (``make_epoch``) serves the task and its sweep program
(``jaxrnn.tasks.sine.sweep``, which vmaps it with a traced learning rate, clip value and bptt
window). Training runs in *chunks* of epochs, driven by ``jaxrnn.train.run_chunks``. A chunk
is one jitted call: a ``lax.scan`` over its epochs, each epoch a ``lax.scan`` of the train step
over the epoch's batches (``batch_size=1``: one sample at a time, i.e. per-sample SGD with no
Python loop). Metrics of every epoch come back stacked at the end of the chunk, so the host
sees them only at logging intervals.

Per epoch the chunk records ``step_loss`` (mean of the epoch's per-step losses, each taken
before its update) and ``grad_norm`` (mean over the epoch's steps of the global gradient norm
before clipping), and, every ``eval_every`` epochs and at the end, after that epoch's updates:
``train_loss``/``val_loss`` (the training objective on the whole train / held-out set, with the
preset's reduction and scale) and ``train_rmse``/``val_rmse`` (of the last step's prediction).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxrnn import model, train
from jaxrnn.cells import get_cell
from jaxrnn.grad.diagnostics import carry_grad_norms
from jaxrnn.parallel import unroll_parallel

NUMPY_DRAWS = {
    "uniform01": lambda rs, shape: rs.uniform(0.0, 1.0, shape),
    "randn001": lambda rs, shape: rs.randn(*shape) * 0.01,
}


def numpy_replay_init(cfg, D: int, O: int, dtype) -> dict:
    """RNN params drawn with ``numpy.random.seed(cfg.numpy_init_seed)`` in the order
    ``W_xh (H, D)``, ``W_hh (H, H)``, ``W_hy (O, H)`` (biases zero), as the seed programs draw
    them. With seed 42 and ``uniform01`` this is the "vidhya" program's initial ``U, W, V``.
    """
    rs = np.random.RandomState(cfg.numpy_init_seed)
    H = cfg.hidden
    W_xh = NUMPY_DRAWS[cfg.input_init](rs, (H, D))
    W_hh = NUMPY_DRAWS[cfg.recurrent_init](rs, (H, H))
    W_hy = NUMPY_DRAWS[cfg.readout_init](rs, (O, H))
    cell = {"W_xh": W_xh, "W_hh": W_hh}
    readout = {"W_hy": W_hy}
    if cfg.bias:
        cell["b_h"], readout["b_y"] = np.zeros(H), np.zeros(O)
    tree = {"cell": cell, "readout": readout}
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype), tree)


def init_params(cfg, key, D: int, O: int, dtype) -> dict:
    """The model's params: numpy replay when ``numpy_init_seed >= 0``, else from ``key``."""
    if cfg.numpy_init_seed >= 0:
        return numpy_replay_init(cfg, D, O, dtype)
    return _init_jitted(cfg, D, O, jnp.dtype(dtype), key)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _init_jitted(cfg, D, O, dtype, key):
    """``model.init_model`` in one compiled call (eager initialisers dispatch op by op)."""
    kwargs = {"input_init": cfg.input_init, "recurrent_init": cfg.recurrent_init}
    if cfg.cell == "rnn":
        kwargs["bias"] = cfg.bias
    return model.init_model(key, cfg.cell, D, cfg.hidden, O, activation=cfg.activation,
                            cell_kwargs=kwargs, readout_init=cfg.readout_init,
                            readout_bias=cfg.bias, dtype=dtype)


def scan_unroll(cfg) -> int:
    """``lax.scan``'s unroll over time in the train step: ``cfg.scan_unroll``, or (0) all T
    steps for per-sample SGD with T <= 16 (tiny steps, where the loop overhead dominates:
    ~3x faster for "vlasov"), else 1 (batched steps measured slower fully unrolled)."""
    if cfg.scan_unroll:
        return cfg.scan_unroll
    return cfg.seq_len if cfg.seq_len <= 16 and cfg.batch_size == 1 else 1


def make_loss_fn(cfg, window=None):
    """``loss_fn(params, (xs, y)) -> (loss, {})``: ``loss_scale`` times the named loss.

    xs (T, [B,] D) encoded inputs, y ([B,] O). The gradient is truncated to windows anchored at
    the last step: ``window`` steps, a traced int32 () in the sweep program (<= 0: full BPTT),
    or (None) ``cfg.bptt_window`` as a static int (0: full BPTT).
    """
    cell = get_cell(cfg.cell, cfg.activation)
    kwargs = {"unroll": scan_unroll(cfg)}
    if window is None:
        window = cfg.bptt_window or None
    if cfg.unroll_method != "scan":
        return _parallel_loss_fn(cfg, cell, window)
    if window is not None:
        kwargs.update(window=window, anchor="end")

    def loss_fn(params, batch):
        xs, y = batch
        loss, _ = model.sequence_loss(cell, params, xs, y, cfg.loss, **kwargs)
        return cfg.loss_scale * loss, {}

    return loss_fn


def _parallel_loss_fn(cfg, cell, window):
    """The loss with the hidden states by ``unroll_parallel(method=cfg.unroll_method)``: the
    same values and (converged) gradients as the scan's full BPTT, no truncation."""
    if window is not None:
        raise ValueError(f"unroll_method={cfg.unroll_method!r} trains on whole sequences; a "
                         f"truncation window ({window}) needs unroll_method='scan'")
    loss = model.get_loss(cfg.loss)

    def loss_fn(params, batch):
        xs, y = batch
        hs, _, _ = unroll_parallel(cell, params["cell"], xs, method=cfg.unroll_method)
        return cfg.loss_scale * loss(model.readouts(params["readout"], hs), y), {}

    return loss_fn


def make_predict(cfg, encode):
    """``predict(params, X) -> (N, O)``: last-step predictions for raw windows X (N, T, C)."""
    cell = get_cell(cfg.cell, cfg.activation)

    def predict(params, X):
        xs = jnp.swapaxes(encode(X), 0, 1)  # (T, N, D)
        preds, _ = model.forward(cell, params, xs)
        return preds[-1]

    return predict


def make_evaluate(cfg, data):
    """``evaluate(params) -> {train_loss, val_loss, train_rmse, val_rmse}`` on the whole sets."""
    cell = get_cell(cfg.cell, cfg.activation)
    loss = model.get_loss(cfg.loss)
    dtype = data.xe_train.dtype
    sets = {"train": (data.xe_train, jnp.asarray(data.split.y_train, dtype)),
            "val": (data.xe_test, jnp.asarray(data.split.y_test, dtype))}

    def evaluate(params):
        out = {}
        for name, (X, Y) in sets.items():
            preds, _ = model.forward(cell, params, jnp.swapaxes(X, 0, 1))  # (T, N, O)
            out[f"{name}_loss"] = cfg.loss_scale * loss(preds, Y)
            out[f"{name}_rmse"] = jnp.sqrt(jnp.mean((preds[-1] - Y) ** 2))
        return out

    return evaluate


def epoch_batches(cfg, key, X, Y):
    """The epoch's batches along a leading step axis.

    ``batch_size=1``: samples ``(N, T, D)``, ``(N, O)`` (one unbatched sample per step);
    otherwise ``(N // B, T, B, D)``, ``(N // B, B, O)`` (``B = N`` for 0, full batch). With
    ``shuffle`` the order is a fresh permutation each epoch (the ``N mod B`` left over are
    skipped that epoch); without, the time order.
    """
    N = X.shape[0]
    idx = jax.random.permutation(key, N) if cfg.shuffle else jnp.arange(N)
    if cfg.batch_size == 1:
        return X[idx], Y[idx]
    B = N if cfg.batch_size == 0 else cfg.batch_size
    idx = idx[:(N // B) * B].reshape(N // B, B)
    return jnp.swapaxes(X[idx], 1, 2), Y[idx]


def train_set(data):
    """The training windows: encoded inputs (N, T, D) and targets (N, O), in the run's dtype."""
    return data.xe_train, jnp.asarray(data.split.y_train, data.xe_train.dtype)


def make_epoch(cfg, data, optimizer, window=None):
    """``epoch(params, opt_state, key) -> (params, opt_state, {"step_loss", "grad_norm"})``.

    One epoch: the train step (``make_loss_fn(cfg, window)``, ``optimizer``) over
    ``epoch_batches`` in one ``lax.scan``; the metrics are means over the epoch's steps (module
    docstring). The sweep program passes an optimizer with a traced learning rate and clip
    value and a traced ``window``; the task passes its own and ``window=None``.
    """
    step = train.make_train_step(make_loss_fn(cfg, window), optimizer)
    X, Y = train_set(data)

    def epoch(params, opt_state, key):
        batches = epoch_batches(cfg, key, X, Y)
        params, opt_state, m = train.scan_steps(step, params, opt_state, batches)
        return params, opt_state, {"grad_norm": jnp.mean(m["grad_norm"]),
                                   "step_loss": jnp.mean(m["loss"])}

    return epoch


def make_run_chunk(cfg, data, optimizer):
    """A jitted ``chunk(params, opt_state, keys (E, 2), first_epoch) -> (params, opt_state,
    metrics)`` training E epochs numbered from ``first_epoch`` (module docstring).

    Metrics are stacked (E,) arrays; the whole-set evaluation runs (under ``lax.cond``) only on
    epochs divisible by ``eval_every`` and on the last epoch, and is NaN on the others.
    """
    train_epoch = make_epoch(cfg, data, optimizer)
    evaluate = make_evaluate(cfg, data)

    def skip(params):
        return jax.tree_util.tree_map(lambda a: jnp.full_like(a, jnp.nan),
                                      jax.eval_shape(evaluate, params))

    def epoch(state, inputs):
        key, number = inputs
        params, opt_state, metrics = train_epoch(*state, key)
        due = (number % cfg.eval_every == 0) | (number == cfg.epochs)
        scores = lax.cond(due, evaluate, skip, params)
        return (params, opt_state), {**metrics, **scores}

    def chunk(params, opt_state, keys, first_epoch):
        numbers = first_epoch + jnp.arange(keys.shape[0])
        (params, opt_state), metrics = lax.scan(epoch, (params, opt_state), (keys, numbers))
        return params, opt_state, metrics

    return jax.jit(chunk)


def carry_grad_profile(cfg, params, xs, Y) -> np.ndarray:
    """(T,) mean over examples of ``||∂L_n/∂c_t||`` for t = 1..T, full BPTT (no truncation).

    ``c_t`` is the carry after step t (``(h, c)`` for the LSTM, both counted) and ``L_n`` the
    example's own loss (times ``loss_scale``), so the curve shows how much the loss depends on
    each step's state: its decay towards early steps is the vanishing gradient. Computed by
    ``jaxrnn.grad.diagnostics.carry_grad_norms(..., per_example=True)``.

    Args: xs (N, T, D) encoded inputs; Y (N, O). Returns: (T,) numpy.
    """
    return np.asarray(_carry_grad_profile(cfg, params, xs, Y))


@functools.partial(jax.jit, static_argnums=0)
def _carry_grad_profile(cfg, params, xs, Y):
    cell = get_cell(cfg.cell, cfg.activation)
    loss = model.get_loss(cfg.loss)

    def loss_of_preds(preds):  # (T, N, O): the sum of the per-example losses
        return cfg.loss_scale * jnp.sum(jax.vmap(loss, (1, 0))(preds, Y))

    norms = carry_grad_norms(cell, params, jnp.swapaxes(xs, 0, 1), loss_of_preds,
                             per_example=True)  # (T, N)
    return jnp.mean(norms, axis=1)
