"""Train steps of the same character model in jaxrnn, PyTorch and Flax, for scripts/bench.py.

Every builder returns ``(step, sync)``: ``step()`` runs one full training step (forward,
backward, Adam update) on a fixed batch of T x B characters, ``sync()`` waits for it to finish.
The model: one recurrent layer (tanh RNN, LSTM or GRU) of H units over one-hot inputs of V
characters, a linear readout to V logits, mean cross-entropy, Adam (lr 2e-3).
"""
from __future__ import annotations

import time

import numpy as np

LR = 2e-3


def batch(T, B, V, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, V, size=(T + 1, B))
    return ids[:-1], ids[1:]


def jaxrnn_step(cell, H, T, B, V, *, unroll=1, checkpoint=False, backward="scan"):
    """jaxrnn: int inputs (the one-hot matmul done as a row gather), hoisted input
    projection, fused gates, donated params and optimiser state; ``backward`` as ``unroll``'s
    (only the RNN has "fused")."""
    import jax
    import jax.numpy as jnp

    from jaxrnn import cells, model, optim

    c = cells.get_cell(cell)
    params = model.init_model(jax.random.PRNGKey(0), cell, V, H, V)
    opt = optim.make_optimizer("adam", LR)
    xs, ys = (jnp.asarray(a) for a in batch(T, B, V))
    traces = []

    def loss_fn(p):
        return model.sequence_loss(c, p, xs, ys, "xent_mean", unroll=unroll,
                                   checkpoint=checkpoint, backward=backward)[0]

    def train_step(p, s):
        traces.append(1)  # runs only while tracing
        loss, g = jax.value_and_grad(loss_fn)(p)
        u, s = opt.update(g, s, p)
        return jax.tree_util.tree_map(jnp.add, p, u), s, loss

    state = {"p": params, "s": opt.init(params), "loss": None}
    jitted = jax.jit(train_step, donate_argnums=(0, 1))
    t0 = time.perf_counter()
    jitted.lower(state["p"], state["s"]).compile()
    compile_s = time.perf_counter() - t0

    def step():
        state["p"], state["s"], state["loss"] = jitted(state["p"], state["s"])

    def sync():
        jax.block_until_ready(state)

    step.compile_s, step.traces = compile_s, traces
    return step, sync


def torch_step(cell, H, T, B, V, threads):
    """PyTorch: torch.nn.RNN/LSTM/GRU (fused kernels; cuDNN on a GPU) + Linear, Adam."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](V, H).to(dev)
    head = torch.nn.Linear(H, V).to(dev)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=LR)
    xs, ys = batch(T, B, V)
    x = torch.nn.functional.one_hot(torch.as_tensor(xs), V).float().to(dev)  # (T, B, V)
    y = torch.as_tensor(ys).reshape(-1).to(dev)

    def step():
        opt.zero_grad(set_to_none=True)
        hs, _ = rnn(x)
        loss = torch.nn.functional.cross_entropy(head(hs).reshape(-1, V), y)
        loss.backward()
        opt.step()

    def sync():
        if dev == "cuda":
            torch.cuda.synchronize()

    return step, sync


def flax_step(cell, H, T, B, V):
    """Flax linen: nn.RNN over nn.SimpleCell / nn.LSTMCell / nn.GRUCell + nn.Dense, optax Adam."""
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import optax

    make_cell = {"rnn": nn.SimpleCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}[cell]

    class LM(nn.Module):
        @nn.compact
        def __call__(self, x):  # (B, T, V)
            return nn.Dense(V)(nn.RNN(make_cell(features=H))(x))

    xs, ys = batch(T, B, V)
    x = jax.nn.one_hot(jnp.asarray(xs.T), V)  # (B, T, V): Flax is batch-major
    y = jnp.asarray(ys.T)
    lm = LM()
    params = lm.init(jax.random.PRNGKey(0), x)
    opt = optax.adam(LR)
    state = [params, opt.init(params)]

    def loss_fn(p):
        return optax.softmax_cross_entropy_with_integer_labels(lm.apply(p, x), y).mean()

    def train_step(p, s):
        loss, g = jax.value_and_grad(loss_fn)(p)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    t0 = time.perf_counter()
    compiled = jax.jit(train_step, donate_argnums=(0, 1)).lower(*state).compile()
    compile_s = time.perf_counter() - t0

    def step():
        state[0], state[1], _ = compiled(state[0], state[1])

    def sync():
        jax.block_until_ready(state)

    step.compile_s = compile_s
    return step, sync


def time_torch_in_subprocess(cell, H, T, B, V, threads, rounds, min_time,
                             keep_freed_memory=False) -> float:
    """Median seconds per PyTorch step, measured in a fresh process.

    In the benchmark's own process XLA's CPU worker threads keep spinning after each jaxrnn or
    Flax step and steal the cores from PyTorch's OpenMP threads (measured: 180 chars/s
    in-process vs 3,400 standalone for the small RNN), so PyTorch is timed on its own.
    ``keep_freed_memory``: apply ``jaxrnn.io.malloc.keep_freed_memory`` in that process first.
    """
    import json
    import os
    import subprocess
    import sys

    cmd = [sys.executable, __file__, "torch", cell, str(H), str(T), str(B), str(V),
           str(threads), str(rounds), str(min_time)]
    env = dict(os.environ, JAXRNN_MALLOC="keep" if keep_freed_memory else "default")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])["sec_per_step"]


def _torch_worker(argv):
    import json
    import statistics

    cell, H, T, B, V, threads, rounds, min_time = argv
    from jaxrnn.io.malloc import keep_freed_memory

    keep_freed_memory()  # a no-op with JAXRNN_MALLOC=default
    step, sync = torch_step(cell, int(H), int(T), int(B), int(V), int(threads))
    for _ in range(3):
        step()
    sync()
    n, elapsed = 1, 0.0
    while elapsed < float(min_time) / 4 and n < 4096:
        n *= 2
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        sync()
        elapsed = time.perf_counter() - t0
    n = max(1, int(n * float(min_time) / max(elapsed, 1e-9)))
    samples = []
    for _ in range(int(rounds)):
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        sync()
        samples.append((time.perf_counter() - t0) / n)
    print(json.dumps({"sec_per_step": statistics.median(samples)}))


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["torch"]:
        _torch_worker(sys.argv[2:])
