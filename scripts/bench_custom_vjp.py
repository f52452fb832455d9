"""A rejected optimisation, kept so it can be re-measured (e.g. on a GPU): a custom VJP for the
recurrence that forms ``dW_h = Σ_t dpre_tᵀ h_{t-1}`` as one matmul after the backward loop.

    python scripts/bench_custom_vjp.py

``lax.scan``'s transpose accumulates ``dW_h`` inside the backward loop: one rank-B update of the
(G, H) gradient per step. PyTorch and cuDNN keep the per-step gate gradients and do one large
GEMM after the loop. This script times the gradient of the benchmark's loss (one-hot chars,
readout, mean cross-entropy; no optimiser) both ways, in interleaved rounds, after checking the
two gradients agree. On the 2-core CPU it paid for the RNN (1.1-1.3x at medium and large size),
which now has it as ``unroll(backward="fused")`` (jaxrnn/rnn_backward.py), but not for the LSTM
(0.87-1.03x), which keeps ``lax.scan``'s own transpose (docs/performance.md).
"""
from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
from jax import lax

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
import bench_peers  # noqa: E402

from jaxrnn import cells, model  # noqa: E402
from jaxrnn.cells import LSTMCarry  # noqa: E402
from jaxrnn.unroll import unroll  # noqa: E402


def _h(carry):
    return carry.h if isinstance(carry, LSTMCarry) else carry


def _post_lstm(px, ph, carry):
    """The LSTM step given both pre-activation parts; (B, 4H) -> carry, y."""
    i, f, g, o = jnp.split(px + ph, 4, -1)
    c = jax.nn.sigmoid(f) * carry.c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return LSTMCarry(h, c), h


def _post_rnn(px, ph, h):
    h = jnp.tanh(px + ph)
    return h, h


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def recurrence(post, W_h, pxs, carry0):
    """(ys, carry) of ``carry_t = post(px_t, h_{t-1} W_hᵀ, carry_{t-1})``; pxs (T, B, G)."""
    def body(carry, px):
        return post(px, _h(carry) @ W_h.T, carry)
    carry, ys = lax.scan(body, carry0, pxs)
    return ys, carry


def _fwd(post, W_h, pxs, carry0):
    def body(carry, px):
        ph = _h(carry) @ W_h.T
        new, y = post(px, ph, carry)
        return new, (y, carry, ph)
    carry, (ys, carries, phs) = lax.scan(body, carry0, pxs)
    return (ys, carry), (W_h, pxs, carries, phs)


def _bwd(post, res, cotangents):
    W_h, pxs, carries, phs = res
    dys, dcarry = cotangents

    def body(dc, step):
        px, ph, carry, dy = step
        _, vjp = jax.vjp(post, px, ph, carry)
        dpx, dph, dprev = vjp((dc, dy))
        dh = _h(dprev) + dph @ W_h
        dprev = dprev._replace(h=dh) if isinstance(dprev, LSTMCarry) else dh
        return dprev, (dpx, dph)

    dcarry0, (dpxs, dphs) = lax.scan(body, dcarry, (pxs, phs, carries, dys), reverse=True)
    dW_h = jnp.einsum("tbg,tbh->gh", dphs, _h(carries))  # one matmul after the loop
    return dW_h, dpxs, dcarry0


recurrence.defvjp(_fwd, _bwd)


def make_grad(cell_name, H, B, T, custom):
    cell = cells.get_cell(cell_name)
    params = model.init_model(jax.random.PRNGKey(0), cell_name, bench.V, H, bench.V)
    xs, ys = (jnp.asarray(a) for a in bench_peers.batch(T, B, bench.V))
    post = _post_lstm if cell_name == "lstm" else _post_rnn

    def loss(p):
        if custom:
            fused = cell.fuse(p["cell"])
            pxs = fused["W_x"].T[xs] + fused["b_x"]
            hs, _ = recurrence(post, fused["W_h"], pxs, cell.init_carry(p["cell"], (B,)))
        else:
            hs, _ = unroll(cell, p["cell"], xs)
        logits = hs @ p["readout"]["W_hy"].T + p["readout"]["b_y"]
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, ys[..., None], -1))

    return jax.jit(jax.grad(loss)), params


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=lambda s: s.split(","), default=list(bench.SIZES))
    p.add_argument("--cells", type=lambda s: s.split(","), default=["rnn", "lstm"])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--min-time", type=float, default=0.4)
    args = p.parse_args(argv)
    from jaxrnn.io.malloc import keep_freed_memory

    keep_freed_memory()
    print("| cell | size | scan transpose chars/s | custom VJP chars/s | custom / scan | "
          "max abs grad diff |\n|---|---|---|---|---|---|")
    for size in args.sizes:
        H, B, T = bench.SIZES[size]
        for cell_name in args.cells:
            runners, grads = {}, {}
            for custom in (False, True):
                g, params = make_grad(cell_name, H, B, T, custom)
                grads[custom] = g(params)
                runners[custom] = (functools.partial(g, params), lambda: None)
            diff = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(
                jax.tree_util.tree_leaves(grads[False]), jax.tree_util.tree_leaves(grads[True])))
            sync = {k: (lambda f=f: jax.block_until_ready(f()), lambda: None)
                    for k, (f, _) in runners.items()}
            sec = bench.time_interleaved(sync, args.rounds, args.min_time)
            print(f"| {cell_name} | {size} | {T * B / sec[False]:,.0f} | "
                  f"{T * B / sec[True]:,.0f} | {sec[False] / sec[True]:.2f} | {diff:.1e} |",
                  flush=True)


if __name__ == "__main__":
    main()
