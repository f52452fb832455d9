"""Audit of the published "vidhya" backward pass (and a check of vlasov's), printed as Markdown.

    /work/venv/bin/python experiments/vidhya_backward_audit.py [--records 100] [--seed 0]

The vidhya model (SEEDS.md A): H=100, sigmoid, no biases, U (H, T=50) with the per-position input
encoding, V (1, H), all weights uniform(0, 1) (jax.random seed --seed), loss ½(ŷ - y)², window 5
anchored at the end. For each training record the recipe of ``jaxrnn.grad.seed_backward`` (with all,
some or none of its defects) is compared with the true truncated gradient (manual BPTT, itself
checked against ``jax.grad`` of ``sequence_loss`` here). The same is repeated at a small
unsaturated init (all weights N(0, 0.01²)), where the true gradient is not ~0.
"""
from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from jaxrnn.cells import get_cell  # noqa: E402
from jaxrnn.grad.manual_bptt import manual_bptt  # noqa: E402
from jaxrnn.model import init_model, sequence_loss  # noqa: E402
from jaxrnn.grad.seed_backward import SEEDS_LISTED, VIDHYA_DEFECTS, vidhya_backward  # noqa: E402
from jaxrnn.grad.seed_backward import vlasov_backward  # noqa: E402

T, H, WINDOW, CLIP = 50, 100, 5, 10.0
VARIANTS = {"as published (4 defects)": VIDHYA_DEFECTS,
            "the 3 SEEDS.md defects": SEEDS_LISTED,
            **{f"only {d}": (d,) for d in VIDHYA_DEFECTS},
            "all fixed": ()}


def vidhya_records(n):
    """(xs (n, T, T) position-encoded windows, ys (n, 1)): sin(0..199), windows of 50."""
    series = np.sin(np.arange(200.0))
    X = np.stack([series[i:i + T] for i in range(150)])[:n]
    Y = series[T:T + 150, None][:n]
    return np.stack([np.diag(x) for x in X]), Y


def flat(tree):
    return np.concatenate([np.ravel(np.asarray(tree[m][k])) for m in ("cell", "readout")
                           for k in sorted(tree[m])])


def leaf(tree, name):
    part = "readout" if name == "W_hy" else "cell"
    return np.ravel(np.asarray(tree[part][name], np.float64))


def stats(g_true, g_recipe):
    """Per leaf: norms, ||g_r - g|| / ||g|| and cosine (nan where ||g|| = 0), clipped share."""
    out = {}
    for name in ("W_xh", "W_hh", "W_hy"):
        a, b = leaf(g_true, name), leaf(g_recipe, name)
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        ok = na > 0 and nb > 0
        ca, cb = np.clip(a, -CLIP, CLIP), np.clip(b, -CLIP, CLIP)
        out[name] = {"true": na, "recipe": nb,
                     "rel": np.linalg.norm(b - a) / na if na > 0 else np.nan,
                     "cos": a @ b / (na * nb) if ok else np.nan,
                     "clipped": np.mean(np.abs(b) > CLIP),
                     "rel_clipped": np.linalg.norm(cb - ca) / np.linalg.norm(ca) if na > 0
                     else np.nan}
    return out


def audit(params, xs_all, ys, cell):
    truths, worst_check = [], 0.0
    for i, (xs, y) in enumerate(zip(xs_all, ys)):
        g = manual_bptt(cell, params, xs, y, "last_half_sum", window=WINDOW, anchor="end").grads
        if i < 3:  # cross-check the reference itself
            g_ad = jax.grad(lambda p: sequence_loss(cell, p, xs, y, "last_half_sum",
                                                    window=WINDOW, anchor="end")[0])(params)
            a, b = flat(g), flat(g_ad)
            worst_check = max(worst_check, np.max(np.abs(a - b)) / np.max(np.abs(a)))
        truths.append(jax.tree_util.tree_map(np.asarray, g))
    rows = {}
    for label, defects in VARIANTS.items():
        per = [stats(g, vidhya_backward(params, xs, y, window=WINDOW, defects=defects))
               for g, xs, y in zip(truths, xs_all, ys)]
        rows[label] = {k: {s: float(np.median([p[k][s] for p in per])) for s in per[0][k]}
                       for k in per[0]}
    return rows, worst_check, last_preactivation(params, xs_all[0])


def last_preactivation(params, xs):
    """Median over units of the last step's pre-activation ``U x̃_T + W s_{T-1}``."""
    U, W = (np.asarray(params["cell"][k]) for k in ("W_xh", "W_hh"))
    s = np.zeros(H)
    for x in xs[:-1]:
        s = 1.0 / (1.0 + np.exp(-(U @ x + W @ s)))
    return float(np.median(U @ xs[-1] + W @ s))


def _fmt(v, spec):
    return "—" if np.isnan(v) else format(v, spec)


def print_table(title, rows, worst_check, pre, n):
    print(f"\n### {title}\n")
    print(f"Medians over {n} training records. Manual BPTT vs jax.grad (first {min(3, n)} "
          f"records): max rel diff {worst_check:.1e}. Median last-step pre-activation "
          f"(record 1): {pre:.3g}.\n")
    print("| recipe | param | true norm | recipe norm | rel. error | cosine | recipe entries "
          "beyond ±10 | rel. error after clipping both to ±10 |")
    print("|---|---|---|---|---|---|---|---|")
    for label, per in rows.items():
        for k, (name, s) in enumerate(per.items()):
            print(f"| {label if k == 0 else ''} | {dict(W_xh='U', W_hh='W', W_hy='V')[name]} | "
                  f"{s['true']:.3g} | {s['recipe']:.3g} | {_fmt(s['rel'], '.3g')} | "
                  f"{_fmt(s['cos'], '.3g')} | {s['clipped']:.2f} | "
                  f"{_fmt(s['rel_clipped'], '.3g')} |")


def vlasov_check():
    """max |published - (T/2) grad(MSE)| / max|T/2 grad(MSE)| on one vlasov window."""
    cell = get_cell("rnn", "tanh")
    Tv = 10
    params = init_model(jax.random.PRNGKey(12), "rnn", 1, 16, 1, cell_kwargs=dict(
        input_init="randn001", recurrent_init="randn001"), readout_init="randn001",
        dtype=jnp.float64)
    params = jax.tree_util.tree_map(lambda a: a + 0.01, params)  # non-zero biases too
    x = np.sin(np.linspace(0, 100, 1000))
    worst = 0.0
    for start in (0, 500, 900):
        xs, y = x[start:start + Tv, None], x[start + Tv:start + Tv + 1]
        g = jax.grad(lambda p: sequence_loss(cell, p, xs, y, "all_steps")[0])(params)
        want = flat(jax.tree_util.tree_map(lambda a: Tv / 2 * np.asarray(a), g))
        got = flat(vlasov_backward(params, xs, y))
        worst = max(worst, np.max(np.abs(got - want)) / np.max(np.abs(want)))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cell = get_cell("rnn", "sigmoid")
    xs_all, ys = vidhya_records(args.records)
    for title, init in (("vidhya init: all weights uniform(0, 1)", "uniform01"),
                        ("small init: all weights N(0, 0.01^2)", "randn001")):
        params = init_model(jax.random.PRNGKey(args.seed), "rnn", T, H, 1,
                            activation="sigmoid", readout_bias=False, readout_init=init,
                            cell_kwargs=dict(bias=False, input_init=init, recurrent_init=init),
                            dtype=jnp.float64)
        print_table(title, *audit(params, xs_all, ys, cell), args.records)
    print(f"\nvlasov: published gradient vs (T/2) x grad of the printed MSE, worst relative "
          f"difference over 3 windows: {vlasov_check():.1e}")


if __name__ == "__main__":
    main()
