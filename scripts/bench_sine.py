"""Speed of the "vlasov" preset: 2000 epochs of per-sample SGD (792 samples, 1.58 M sequential
updates) in jaxrnn against a straightforward numpy per-sample implementation of the same
algorithm, written here for the benchmark. Both run in this process; the ratio is printed.

- jaxrnn: ``jaxrnn.tasks.sine.main.fit`` exactly as ``jaxrnn sine --preset vlasov`` runs it (float32,
  chunks of 100 epochs, every epoch also scored on the whole train and held-out sets). Compile
  time (ahead-of-time ``lower().compile()``) and run time are reported separately.
- numpy: float64, one Python-level forward and backward loop over the 10 steps per sample, loss
  printed every 200 epochs as the published program does. It is timed on ``--numpy-epochs``
  epochs and extrapolated linearly to 2000 (each epoch does the same work).
- agreement: jaxrnn in float64 and the numpy code trained from the same initial params for
  ``--numpy-epochs`` epochs must give the same params (the same algorithm), else the script fails.

Usage: ``python scripts/bench_sine.py [--epochs 2000] [--numpy-epochs 3]``.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import jax

jax.config.update("jax_enable_x64", True)  # for the float64 agreement check only

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxrnn.tasks.sine import main as sine  # noqa: E402
from jaxrnn.tasks.sine.config import PRESETS  # noqa: E402
from jaxrnn.tasks.sine.fit import init_params  # noqa: E402


def numpy_sgd(p, X, Y, epochs, lr, clip, log_every=200):
    """Per-sample SGD of ``mean_t (ŷ_t - y)²`` (full BPTT, element-wise clip), in numpy."""
    W_xh, W_hh, b_h = p["W_xh"].copy(), p["W_hh"].copy(), p["b_h"].copy()
    W_hy, b_y = p["W_hy"].copy(), p["b_y"].copy()
    T, H = X.shape[1], W_hh.shape[0]
    for epoch in range(1, epochs + 1):
        total = 0.0
        for x, y in zip(X, Y):
            hs = np.zeros((T + 1, H))
            for t in range(T):
                hs[t + 1] = np.tanh(W_xh @ x[t] + W_hh @ hs[t] + b_h)
            ys = hs[1:] @ W_hy.T + b_y  # (T, 1)
            total += np.mean((ys - y) ** 2)
            dy = (2.0 / T) * (ys - y)
            g = [np.zeros_like(a) for a in (W_xh, W_hh, b_h, W_hy, b_y)]
            dh_next = np.zeros(H)
            for t in range(T - 1, -1, -1):
                da = (W_hy.T @ dy[t] + dh_next) * (1.0 - hs[t + 1] ** 2)
                g[0] += np.outer(da, x[t])
                g[1] += np.outer(da, hs[t])
                g[2] += da
                g[3] += np.outer(dy[t], hs[t + 1])
                g[4] += dy[t]
                dh_next = W_hh.T @ da
            for a, d in zip((W_xh, W_hh, b_h, W_hy, b_y), g):
                a -= lr * np.clip(d, -clip, clip)
        if epoch % log_every == 0:
            print(f"  numpy epoch {epoch}: loss {total / len(X):.6f}")
    return {"W_xh": W_xh, "W_hh": W_hh, "b_h": b_h, "W_hy": W_hy, "b_y": b_y}


def flat(params):
    return {k: np.asarray(v, np.float64) for d in params.values() for k, v in d.items()}


def check_agreement(cfg, epochs):
    """jaxrnn float64 vs numpy from the same init, ``epochs`` epochs: max abs param difference."""
    cfg64 = dataclasses.replace(cfg, dtype="float64", epochs=epochs, log_every=epochs)
    data = sine.build_data(cfg64)
    key = jax.random.PRNGKey(cfg.seed)
    p0 = init_params(cfg64, key, 1, 1, jnp.float64)
    got, _, _ = sine.fit(cfg64, data, p0, key, progress=False)
    X, Y = np.asarray(data.xe_train), data.split.y_train
    t0 = time.perf_counter()
    want = numpy_sgd(flat(p0), X, Y, epochs, cfg.learning_rate, cfg.clip_value)
    numpy_s = time.perf_counter() - t0
    diff = max(float(np.max(np.abs(flat(got)[k] - want[k]))) for k in want)
    return diff, numpy_s / epochs


def run_benchmark(epochs: int = 2000, numpy_epochs: int = 3) -> dict:
    """Times both sides (printing as it goes) and returns the numbers as a dict."""
    cfg = dataclasses.replace(PRESETS["vlasov"], epochs=epochs)
    print(f"device: {jax.devices()[0].device_kind}; vlasov preset, {epochs} epochs x 792 "
          f"samples = {epochs * 792:,} per-sample updates")
    diff, np_epoch = check_agreement(cfg, numpy_epochs)
    print(f"agreement after {numpy_epochs} epochs, float64: max |jaxrnn - numpy| = {diff:.2e}")
    if not diff < 1e-9:
        raise SystemExit("jaxrnn and the numpy implementation disagree: not the same algorithm")
    np_total = np_epoch * epochs
    print(f"numpy: {np_epoch:.3f} s/epoch over {numpy_epochs} epochs -> "
          f"{np_total:.0f} s extrapolated to {epochs} epochs")
    data = sine.build_data(cfg)
    k_init, k_train = jax.random.split(jax.random.PRNGKey(cfg.seed))
    p0 = init_params(cfg, k_init, 1, 1, jnp.float32)
    params, history, timing = sine.fit(cfg, data, p0, k_train, progress=False)
    total = timing["compile_s"] + timing["train_s"]
    print(f"jaxrnn (float32): compile {timing['compile_s']:.2f} s + run {timing['train_s']:.2f} s"
          f" = {total:.2f} s  ({timing['train_s'] / (epochs * 792) * 1e6:.2f} us/update); "
          f"held-out RMSE {history[-1]['val_rmse']:.4f}")
    print(f"ratio numpy / jaxrnn: {np_total / total:.0f}x including compile, "
          f"{np_total / timing['train_s']:.0f}x run only")
    return {"epochs": epochs, "numpy_s_per_epoch": np_epoch, "numpy_total_s": np_total,
            "jaxrnn_compile_s": timing["compile_s"], "jaxrnn_run_s": timing["train_s"],
            "ratio_incl_compile": np_total / total, "ratio_run_only": np_total / timing["train_s"],
            "agreement": diff}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=2000)
    parser.add_argument("--numpy-epochs", type=int, default=3)
    args = parser.parse_args()
    run_benchmark(args.epochs, args.numpy_epochs)


if __name__ == "__main__":
    main()
