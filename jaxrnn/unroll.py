"""Unrolling cells over time with ``lax.scan``, and truncated BPTT by ``stop_gradient`` windows.

Inputs are time-major: ``xs`` is (T, D) for one sequence or (T, B, D) for a batch (int inputs
(T,) or (T, B) are one-hot indices, see ``cells``). The input projection ``W_x x_t + b`` is done
for all steps in one batched matmul before the scan; the scan body only does the recurrent part.

Truncation (``window=k``) lives here and only here. Time is split into windows of k steps and the
carry entering the first step of each window goes through ``lax.stop_gradient``: the forward
values are unchanged, and the gradient of a loss at step t reaches back only to the start of t's
window (the paths through the carry across a boundary are cut; the paths into the params inside
each window are kept). Windows are counted along the processing order (reversed when
``reverse=True``) over each sequence's valid steps:

- ``anchor="start"``: windows ``[0, k), [k, 2k), ...``; a short window, if any, is last.
- ``anchor="end"``: windows end at the last valid step: ``..., [L-2k, L-k), [L-k, L)``; a short
  window, if any, is first. With a loss on the last step only and ``window=5`` (the "vidhya"
  preset), the gradient flows through exactly the last 5 steps.

With ``k >= T`` nothing is cut and the gradient is full BPTT.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxrnn.cells import Cell, LSTMCarry, hidden_size

ANCHORS = ("start", "end")


def detach(carry):
    """``lax.stop_gradient`` on every leaf of a carry: use between streamed windows."""
    return jax.tree_util.tree_map(lax.stop_gradient, carry)


def _expand(cond, x):
    """Reshape a (B,) or () condition to broadcast against x (B, H) or (H,) at equal rank."""
    return jnp.reshape(cond, jnp.shape(cond) + (1,) * (x.ndim - jnp.ndim(cond)))


def tree_where(cond, a, b):
    """Leafwise ``where(cond, a, b)`` for carries; cond is () or (B,)."""
    return jax.tree_util.tree_map(lambda u, v: jnp.where(_expand(cond, u), u, v), a, b)


def _is_concrete(x):
    return not isinstance(x, jax.core.Tracer)


def check_inputs(cell: Cell, params, xs):
    """Returns (T, batch_shape) after checking xs against the params."""
    if not isinstance(cell, Cell):
        raise TypeError(f"cell must be a jaxrnn Cell (from get_cell), got {type(cell).__name__}")
    xs = jnp.asarray(xs)
    is_index = jnp.issubdtype(xs.dtype, jnp.integer)
    feature_dims = 0 if is_index else 1
    if xs.ndim not in (1 + feature_dims, 2 + feature_dims):
        want = "(T,) or (T, B) int" if is_index else "(T, D) or (T, B, D) float"
        raise ValueError(f"xs must have shape {want}; got shape {xs.shape}")
    D = cell.fuse(params)["W_x"].shape[1]
    if not is_index and xs.shape[-1] != D:
        raise ValueError(
            f"xs has {xs.shape[-1]} features in its last axis but the cell's input weight expects "
            f"D={D} (W_x has shape (·, {D})); reshape xs to (T, [B,] {D}) or re-init the cell")
    if xs.shape[0] == 0:
        raise ValueError("xs has no time steps (T=0); pass at least one step")
    return xs.shape[0], xs.shape[1:xs.ndim - feature_dims]


def check_carry(cell, params, carry0, batch_shape):
    H = hidden_size(params)
    want = tuple(batch_shape) + (H,)
    for leaf in jax.tree_util.tree_leaves(carry0):
        if leaf.shape != want:
            raise ValueError(f"carry0 leaves must have shape batch + (H,) = {want}; "
                             f"got {leaf.shape}")
    if cell.name == "lstm" and not isinstance(carry0, LSTMCarry):
        raise TypeError("the LSTM carry must be an LSTMCarry(h, c)")


def _step_flags(T, batch_shape, name, flags):
    """Checks a (T,) or (T, B) bool array of per-step flags; returns it as an array or None."""
    if flags is None:
        return None
    flags = jnp.asarray(flags)
    if flags.shape not in ((T,), (T,) + tuple(batch_shape)):
        raise ValueError(f"{name} must have shape (T,) or (T, B) = {(T,) + tuple(batch_shape)}; "
                         f"got {flags.shape}")
    return flags.astype(bool)


def lengths_to_mask(lengths, T: int):
    """(B,) sequence lengths -> (T, B) bool mask, True on valid steps.

    Raises ValueError when a (concrete) length is negative or longer than T.
    """
    lengths = jnp.asarray(lengths)
    if lengths.ndim != 1 or not jnp.issubdtype(lengths.dtype, jnp.integer):
        raise ValueError(f"lengths must be a (B,) int array; got {lengths.dtype} {lengths.shape}")
    if _is_concrete(lengths) and lengths.size and (
            int(lengths.max()) > T or int(lengths.min()) < 0):
        raise ValueError(f"lengths must be in [0, T={T}]; got min {int(lengths.min())}, "
                         f"max {int(lengths.max())} (a length longer than the sequence)")
    return jnp.arange(T)[:, None] < lengths[None, :]


def window_cuts(T: int, window: int, anchor: str = "start", lengths=None, reverse=False):
    """Where the carry is detached: True at step t if the carry entering step t is cut.

    Args:
      T: steps; window: k, a positive int, or an int array, maybe traced (sweeps; < 1 cuts nothing);
        anchor: "start" or "end" (module docstring).
      lengths: valid steps per sequence, () or (B,) (None: all T); valid steps are a prefix.
      reverse: count windows along a reversed scan.
    Returns: bool (T,) or (T, B).
    """
    if isinstance(window, jax.Array):
        # An array window (traced: one per vmapped sweep run) is not validated: below 1 it cuts
        # nothing (full BPTT), since no offset in [1, T - 1] is a multiple of T + 1.
        window = jnp.where(window >= 1, window, T + 1)
    elif isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window <= 0:
        raise ValueError(f"window must be a positive int (steps per truncation window) or "
                         f"None for full BPTT; got {window!r}")
    if anchor not in ANCHORS:
        raise ValueError(f"anchor must be one of {ANCHORS}; got {anchor!r}")
    L = jnp.asarray(T if lengths is None else lengths)
    t = jnp.arange(T).reshape((T,) + (1,) * L.ndim)
    L = L[None]
    p = (L - 1 - t) if reverse else t  # position in processing order
    offset = p if anchor == "start" else L - p
    return (p > 0) & (p < L) & (offset % window == 0)


def carry_dtype(params, xs):
    """The carry dtype: params' dtype promoted with float inputs' (dtypes follow the inputs)."""
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    if jnp.issubdtype(xs.dtype, jnp.floating):
        dtype = jnp.result_type(dtype, xs.dtype)
    return dtype


def _project_all(fused, xs, project):
    """Input pre-activations of all steps at once: (T, [B,] G).

    Int (one-hot) inputs gather *rows* of ``W_xᵀ`` (V, G): contiguous copies, and a row
    scatter-add on the backward pass. The per-example ``Cell.project`` gathers columns of
    ``W_x`` (G, V), which, vmapped over (T, B), is a strided gather: in interleaved A/Bs of
    the full training step (scripts/bench_ablate.py) rows were 0.99-1.10x as fast for the LSTM
    and GRU and 1.5-1.95x for the small RNN. Float inputs use the vmapped matmul.
    """
    if jnp.issubdtype(xs.dtype, jnp.integer):
        return fused["W_x"].T[xs] + fused["b_x"].reshape((1,) * xs.ndim + (-1,))
    return jax.vmap(project, (None, 0))(fused, xs)


def _batched(cell, params, xs, carry0, batch_shape):
    """The cell's project/recur vmapped over the batch axes, and the checked (or zero) carry0."""
    project, recur = cell.project, cell.recur
    for _ in batch_shape:
        project, recur = jax.vmap(project, (None, 0)), jax.vmap(recur, (None, 0, 0))
    if carry0 is None:
        carry0 = cell.init_carry(params, batch_shape, carry_dtype(params, xs))
    else:
        check_carry(cell, params, carry0, batch_shape)
        carry0 = cast_carry(carry0, carry_dtype(params, xs))
    return project, recur, carry0


def cast_carry(carry0, dtype):
    """carry0 cast to the carry dtype (``lax.scan`` needs the carry's dtype fixed over time).

    Raises TypeError when a leaf is not floating (an int carry is a mistake, not a precision)."""
    for leaf in jax.tree_util.tree_leaves(carry0):
        if not jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.floating):
            raise TypeError(f"carry0 must be floating (the params are {jnp.dtype(dtype).name}); "
                            f"got a {jnp.asarray(leaf).dtype} leaf: pass a float carry0")
    return jax.tree_util.tree_map(lambda c: jnp.asarray(c).astype(dtype), carry0)


def unroll(cell: Cell, params: dict, xs, carry0=None, *, reverse=False, lengths=None,
           mask=None, resets=None, window=None, anchor="start", unroll=1, checkpoint=False,
           checkpoint_policy=None, backward="scan"):
    """Runs ``cell`` over time with ``lax.scan``.

    Args:
      cell: from ``get_cell``.
      params: the cell's params.
      xs: (T, D) or (T, B, D) float inputs, or (T,) / (T, B) int one-hot indices.
      carry0: initial carry, batch + (H,) (``LSTMCarry`` for the LSTM); zeros when None.
      reverse: process from the last step to the first (outputs stay aligned with xs).
      lengths: (B,) valid lengths, or ``mask``: (T,) / (T, B) bool. Past a sequence's end the carry
        stops changing and outputs are zero; with ``reverse`` each sequence starts at its end.
      resets: (T,) / (T, B) bool; where True the carry is reset to ``carry0`` before step t
        (a new episode starts at t, as Haiku's ``ResetCore``).
      window: truncation window k (None: full BPTT); ``anchor``: "start" or "end".
      unroll: passed to ``lax.scan``. checkpoint: wrap the step in ``jax.checkpoint`` (recompute
        it on the backward pass instead of storing its intermediates), with ``checkpoint_policy``.
        Then the input projection moves into the checkpointed step too, so the backward pass
        stores only each step's input and carry, not the (T, [B,] G) pre-activations.
      backward: "scan" (``lax.scan``'s own transpose) or "fused": the RNN cell's hand-written
        backward pass that forms ``dW_hh`` in one matmul after the loop (``jaxrnn.rnn_backward``;
        faster on the CPU benchmark for medium and large RNNs; no forward-mode autodiff, and no
        mask, resets, window < T, reverse or checkpoint; ``window >= T`` is full BPTT, accepted);
        "cudnn": the LSTM forward and backward by cuDNN on a GPU (``jaxrnn.cudnn_lstm``; batched
        float xs, lengths only, no window, mask, resets, reverse or checkpoint).
      A ``carry0`` of another float dtype than the params (promoted with float xs) is cast to
      theirs.

    Returns:
      ``(ys, carry)``: ys (T, [B,] H) per-step outputs, and the final carry.
    """
    if backward == "cudnn":
        from jaxrnn.cudnn_lstm import unroll_cudnn

        return unroll_cudnn(cell, params, xs, carry0, reverse=reverse, lengths=lengths,
                            mask=mask, resets=resets, window=window, checkpoint=checkpoint)
    T, batch_shape = check_inputs(cell, params, xs)
    if backward != "scan":
        return _unroll_fused_backward(cell, params, xs, carry0, backward, unroll, batch_shape,
                                      reverse=reverse, lengths=lengths, mask=mask,
                                      resets=resets, window=window, checkpoint=checkpoint)
    if lengths is not None and mask is not None:
        raise ValueError("pass lengths or mask, not both")
    if lengths is not None:
        if len(batch_shape) != 1 or jnp.shape(lengths) != batch_shape:
            raise ValueError(f"lengths needs batched xs (T, B, ...) and shape (B,) = "
                             f"{batch_shape}; got {jnp.shape(lengths)}")
        mask = lengths_to_mask(lengths, T)
    mask = _step_flags(T, batch_shape, "mask", mask)
    resets = _step_flags(T, batch_shape, "resets", resets)
    cuts = None
    if window is not None:
        valid = None
        if mask is not None:
            valid = jnp.broadcast_to(mask.T, tuple(batch_shape) + (T,)).sum(-1)  # () or (B,)
        cuts = window_cuts(T, window, anchor, valid, reverse)
    fused = cell.fuse(params)
    xs = jnp.asarray(xs)
    project, recur, carry0 = _batched(cell, params, xs, carry0, batch_shape)
    # Hoisted: one batched projection for all steps. Checkpointed: projected inside the step.
    pxs = xs if checkpoint else _project_all(fused, xs, project)  # (T, [B,] G)

    def body(carry, inputs):
        px, m, r, cut = inputs
        if checkpoint:
            px = project(fused, px)
        if r is not None:
            carry = tree_where(r, carry0, carry)
        if cut is not None:
            carry = tree_where(cut, detach(carry), carry)
        new, y = recur(fused, carry, px)
        if m is not None:
            new = tree_where(m, new, carry)
            y = jnp.where(_expand(m, y), y, jnp.zeros_like(y))
        return new, y

    if checkpoint:
        body = jax.checkpoint(body, policy=checkpoint_policy)
    carry, ys = lax.scan(body, carry0, (pxs, mask, resets, cuts), reverse=reverse, unroll=unroll)
    return ys, carry


def _unroll_fused_backward(cell, params, xs, carry0, backward, unroll, batch_shape, **options):
    """``unroll(backward="fused")``: the RNN recurrence with ``rnn_backward``'s VJP."""
    from jaxrnn import rnn_backward

    if backward != "fused":
        raise ValueError(f"backward must be 'scan', 'fused' or 'cudnn'; got {backward!r}")
    if cell.name != "rnn":
        raise ValueError(f"backward='fused' is for the 'rnn' cell only (got {cell.name!r}); "
                         f"use backward='scan'")
    T = jnp.shape(xs)[0]
    if isinstance(options["window"], (int, np.integer)) and options["window"] >= T:
        options["window"] = None  # a window of T or more steps cuts nothing: full BPTT
    used = [k for k, v in options.items() if v is not None and v is not False]
    if used:
        raise ValueError(f"backward='fused' does not support {', '.join(used)}; "
                         f"use backward='scan' for those")
    fused = cell.fuse(params)
    xs = jnp.asarray(xs)
    project, _, carry0 = _batched(cell, params, xs, carry0, batch_shape)
    pxs = _project_all(fused, xs, project)
    return rnn_backward.recurrence(cell.activation, fused["W_h"], pxs, carry0, unroll)


_unroll = unroll  # for functions whose `unroll` argument (lax.scan's) shadows the name


def _carries_entering(cell, params, xs, carry0):
    """(T, ...) carries entering each step, computed without gradient."""
    fused = detach(cell.fuse(params))
    batched = xs.ndim == (2 if jnp.issubdtype(xs.dtype, jnp.integer) else 3)
    project, recur = cell.project, cell.recur
    if batched:
        project, recur = jax.vmap(project, (None, 0)), jax.vmap(recur, (None, 0, 0))
    pxs = _project_all(fused, xs, project)

    def body(carry, px):
        return recur(fused, carry, px)[0], carry

    return lax.scan(body, detach(carry0), pxs)[1]


def unroll_tbptt(cell: Cell, params: dict, xs, carry0=None, *, k1: int, k2: int, unroll=1):
    """TBPTT(k1, k2): outputs whose gradient reaches back at most k2 steps, in blocks of k1.

    Time is cut into blocks of k1 steps ``[s k1, (s+1) k1)``. Block s is recomputed from the
    (detached) exact carry at ``(s+1) k1 - k2``, so a loss at step t in the block sends gradient
    back to that point: between ``k2 - k1 + 1`` and ``k2`` steps. Forward values equal the plain
    unroll; with ``k1 == k2 == k`` the gradient equals ``unroll(window=k, anchor="start")``. The
    blocks are independent given their start carries and run as one vmapped scan (cost T k2 / k1
    steps). A loss every k1 steps over the block's outputs is Williams & Peng's TBPTT(k1, k2);
    a loss at every step is Sutskever's (2013) variant.

    Args: as ``unroll``; ``k1`` >= 1 block length, ``k2`` >= k1 gradient depth.
    Returns: ``(ys, carry)`` as ``unroll``.

    References: Williams & Peng, 1990, Neural Computation 2(4); Sutskever, 2013, PhD thesis §2.8.6.
    """
    for name, k in (("k1", k1), ("k2", k2)):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
            raise ValueError(f"{name} must be a positive int; got {k!r}")
    if k2 < k1:
        raise ValueError(f"k2 (gradient depth) must be >= k1 (block length); got k1={k1}, k2={k2}")
    T, batch_shape = check_inputs(cell, params, xs)
    xs = jnp.asarray(xs)
    if carry0 is None:
        carry0 = cell.init_carry(params, batch_shape, carry_dtype(params, xs))
    carry0 = cast_carry(carry0, carry_dtype(params, xs))
    carries = _carries_entering(cell, params, xs, carry0)  # (T, ...)
    n_blocks = -(-T // k1)
    firsts = (np.arange(n_blocks) + 1) * k1 - k2  # (S,) where each block's recompute starts
    idx = firsts[:, None] + np.arange(k2)[None, :]  # (S, k2) global step of each window slot
    valid = jnp.asarray((idx >= 0) & (idx < T))
    idx = np.clip(idx, 0, T - 1)
    starts = jax.tree_util.tree_map(lambda c: c[np.clip(firsts, 0, T - 1)], carries)
    from_zero = jnp.asarray(firsts <= 0)
    starts = jax.vmap(lambda z, s: tree_where(z, carry0, s))(from_zero, starts)
    block_mask = valid if not batch_shape else jnp.broadcast_to(
        valid[..., None], valid.shape + tuple(batch_shape))

    def block(x, c, m):
        return _unroll(cell, params, x, c, mask=m, unroll=unroll)

    ys_w, finals = jax.vmap(block)(xs[idx], starts, block_mask)  # (S, k2, ...)
    t = np.arange(T)
    ys = ys_w[t // k1, t - firsts[t // k1]]
    carry = jax.tree_util.tree_map(lambda c: c[-1], finals)
    return ys, carry


def unroll_stack(cells, params_list, xs, carries0=None, *, dropout=0.0, key=None, **kwargs):
    """Stacked layers: layer l+1 reads layer l's outputs (``return_sequences``), each unrolled
    over the whole sequence before the next (so every layer's input projection is hoisted).

    Args:
      cells: one Cell per layer (or a single Cell for all); params_list: one params dict per layer.
      xs: as ``unroll``; carries0: a list of per-layer initial carries, or None.
      dropout: rate of inverted dropout on the outputs *between* layers (needs ``key``).
      **kwargs: passed to every layer's ``unroll`` (lengths, mask, resets, window, ...).

    Returns: ``(ys, carries)``: the top layer's outputs (T, [B,] H) and a list of final carries.
    """
    n = len(params_list)
    cells = [cells] * n if isinstance(cells, Cell) else list(cells)
    if len(cells) != n:
        raise ValueError(f"got {len(cells)} cells for {n} layers of params")
    carries0 = [None] * n if carries0 is None else list(carries0)
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {dropout}")
    if dropout and key is None:
        raise ValueError("dropout > 0 needs a PRNG key (key=...)")
    keys = jax.random.split(key, n) if dropout else [None] * n
    carries = []
    for layer, (cell, params, c0) in enumerate(zip(cells, params_list, carries0)):
        if layer > 0 and dropout:
            keep = jax.random.bernoulli(keys[layer], 1.0 - dropout, xs.shape)
            xs = jnp.where(keep, xs / (1.0 - dropout), jnp.zeros_like(xs))
        xs, carry = unroll(cell, params, xs, c0, **kwargs)
        carries.append(carry)
    return xs, carries


def unroll_bidirectional(cell: Cell, params: dict, xs, carry0=None, **kwargs):
    """Bidirectional wrapper: a forward and a reverse unroll, outputs concatenated.

    Args: params ``{"fwd": ..., "bwd": ...}``; carry0 ``(fwd, bwd)`` or None; kwargs as ``unroll``
      (with ``lengths``/``mask`` the backward direction starts at each sequence's last valid step).
    Returns: ``(ys, (carry_fwd, carry_bwd))`` with ys (T, [B,] 2H), ``[fwd, bwd]`` on the last axis.
    """
    if kwargs.get("reverse"):
        raise ValueError("unroll_bidirectional runs both directions; do not pass reverse")
    c_f, c_b = (None, None) if carry0 is None else carry0
    ys_f, carry_f = unroll(cell, params["fwd"], xs, c_f, **kwargs)
    ys_b, carry_b = unroll(cell, params["bwd"], xs, c_b, reverse=True, **kwargs)
    return jnp.concatenate([ys_f, ys_b], axis=-1), (carry_f, carry_b)
