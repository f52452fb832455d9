"""The online-estimator study: alignment with the exact gradient vs the memory horizon, learning
curves of online training, and cost per step vs H (``experiments/online.md``).

Not a ``jaxrnn sweep`` spec: a sweep vmaps one compiled program over numeric hyperparameters,
while each estimator here is a different program (its own recursion and state), so the study
is this module, run by ``python -m jaxrnn.tasks.online.study --out DIR [--quick]`` and, quick,
by ``jaxrnn reproduce`` (section "online").
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxrnn.cells import get_cell
from jaxrnn.data.memory import adding_batch
from jaxrnn.data.text import random_windows
from jaxrnn.grad.gradcheck import Problem, make_problem
from jaxrnn.io import runs
from jaxrnn.io.config import override
from jaxrnn.online import compare_estimators, resolve
from jaxrnn.online.common import flat_cell
from jaxrnn.online.registry import resolve_rule
from jaxrnn.tasks.online.main import PRESETS, TASKS, char_ids, fit, init_params

ESTIMATORS = ("rtrl_jac", "tbptt2", "uoro", "kfrtrl", "snap1", "snap2", "rflo", "eprop")
QUICK_ESTIMATORS = ("rtrl_jac", "tbptt2", "uoro", "snap1", "eprop")  # fewer compilations
CURVE_METHODS = (("bptt", "tbptt", None), ("tbptt_k", "tbptt", "k"), ("rtrl_jac", "rtrl_jac", 1),
                 ("uoro", "uoro", 1), ("kfrtrl", "kfrtrl", 1), ("snap1", "snap1", 1),
                 ("rflo", "rflo", 1), ("eprop", "eprop", 1))


def _to64(tree):
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), tree)


def adding_problem(params, T, B, seed):
    xs, y = adding_batch(jax.random.PRNGKey(seed), T, B, jnp.float64)
    return Problem(get_cell("rnn"), _to64(params), xs, y, "last")


def sine_problem(params, T, B, seed, period=12.0):
    phase = np.random.default_rng(seed).uniform(0, 2 * np.pi, B)
    wave = np.sin(2 * np.pi * np.arange(T + 1)[:, None] / period + phase[None, :])
    return Problem(get_cell("rnn"), _to64(params), jnp.asarray(wave[:-1, :, None]),
                   jnp.asarray(wave[-1, :, None]), "last")


def char_problem(params, T, B, seed):
    """A window of the char task's text (``main.CHAR_TEXT``) under ``params``, xent_mean."""
    xs, ys = random_windows(jax.random.PRNGKey(seed), jnp.asarray(char_ids()[0]), B, T)
    return Problem(get_cell("rnn"), _to64(params), xs, ys, "xent_mean")


TRAIN = {"adding": (6000, 64, 3e-3), "sine": (3000, 64, 1e-2),  # (episodes, batch, Adam's
         "char": (1000, 8, 1e-2)}  # learning rate) of BPTT; adding T=40 needs 3e-3 (online.md)


def _params(cfg, stage, trained):
    """The model at init, or after ``TRAIN[task]`` episodes of BPTT (Adam) on the task; the
    trained one appends {task, T, episodes, batch, lr, first, last} (mean loss of the first and
    last 10% of episodes, each on fresh data) to ``trained``."""
    if stage == "init":
        return init_params(cfg)
    episodes, batch, lr = TRAIN[cfg.task]
    params, losses = fit(override(cfg, {"episodes": episodes, "batch": batch,
                                        "learning_rate": lr, "log_every": episodes}))
    n = episodes // 10
    trained.append({"task": cfg.task, "T": cfg.T, "episodes": episodes, "batch": batch, "lr": lr,
                    "first": float(np.mean(losses[:n])), "last": float(np.mean(losses[-n:]))})
    return params


def alignment(out: Path, quick: bool) -> tuple[list[dict], list[dict]]:
    """(rows {task, T, stage, estimator, N, cos, rel, bias, floor, var} (``compare``) over the
    cell's params (the readout's gradient is exact in every estimator), the trained models'
    losses (``_params``))."""
    N, H, B = (10, 8, 4) if quick else (30, 16, 8)
    horizons = (10,) if quick else (5, 10, 20, 40)
    stages = ("init",) if quick else ("init", "trained")
    rows, trained = [], []
    for T in horizons:
        cfg = override(PRESETS["adding-rtrl"], {"T": T, "hidden": H, "method": "tbptt",
                                                "every": T})  # learning rate: TRAIN
        for stage in stages:
            rows += _rows(adding_problem(_params(cfg, stage, trained), T, B, 1), N,
                          {"task": "adding", "T": T, "stage": stage},
                          QUICK_ESTIMATORS if quick else ESTIMATORS)
    if not quick:
        for task, make in (("sine", sine_problem), ("char", char_problem)):
            cfg = override(PRESETS["sine-bptt"], {"task": task, "T": 20, "hidden": H})
            for stage in stages:
                rows += _rows(make(_params(cfg, stage, trained), 20, B, 1), N,
                              {"task": task, "T": 20, "stage": stage})
    runs.write_csv(out / "alignment.csv", rows)
    if trained:
        runs.write_csv(out / "trained.csv", trained)
    return rows, trained


def _rows(problem, N, info, names=ESTIMATORS):
    result = compare_estimators(problem, names, samples=N, seed=0)
    return [dict(info, estimator=name, **{k: r["cell"][k] for k in ("N", "cos", "rel", "bias",
                                                                     "floor", "var")})
            for name, r in result["rows"].items()]


CHAR_CURVES = tuple(m for m in CURVE_METHODS if m[0] in ("bptt", "tbptt_k", "uoro", "snap1")) + (
    ("snap2", "snap2", 1),)  # snap2 = RTRL for a dense W_hh; the RNN-only rules are skipped


def curves(out: Path, quick: bool, tasks=TASKS) -> dict:
    """{task: {method: losses per episode}} of online training (``CURVE_METHODS``; char: the
    ``CHAR_CURVES`` subset and 200 episodes, one seed)."""
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"unknown task(s) {', '.join(unknown)} for the learning curves; choose "
                         f"from {', '.join(TASKS)} (--tasks)")
    episodes = 40 if quick else 300
    setups = {"sine": override(PRESETS["sine-uoro"], {"T": 20, "hidden": 8}),
              "adding": override(PRESETS["adding-rtrl"], {"T": 10, "hidden": 8}),
              "char": override(PRESETS["sine-uoro"], {"task": "char", "T": 20, "hidden": 8})}
    tasks = ("sine",) if quick else tasks
    tbptt_k = {"sine": 4, "adding": 5, "char": 4}  # TBPTT(k) windows: k < the task's memory
    methods = {"sine": CURVE_METHODS, "adding": CURVE_METHODS, "char": CHAR_CURVES}
    result = {}
    for task in tasks:
        base, n_ep = setups[task], 200 if task == "char" and not quick else episodes
        result[task] = {}
        for label, method, every in CURVE_METHODS[:1] + CURVE_METHODS[3:4] if quick else \
                methods[task]:
            if every == "k":
                every = tbptt_k[task]
            elif every is None or task == "adding":  # adding: the loss is at step T only
                every = base.T
            cfg = override(base, {"method": method, "every": every, "episodes": n_ep,
                                  "log_every": n_ep, "learning_rate": 1e-2})
            t = time.perf_counter()
            _, losses = fit(cfg)
            result[task][label] = {"losses": losses, "seconds": time.perf_counter() - t,
                                   "every": every}
        runs.write_csv(out / f"curves_{task}.csv", [
            {"episode": i + 1, **{m: float(v["losses"][i]) for m, v in result[task].items()}}
            for i in range(n_ep)])
    return result


def cost(out: Path, quick: bool) -> list[dict]:
    """Rows {estimator, H, us_per_step, state_numbers}: one sequence (T steps, B = 1) timed
    after compilation (median of 5), and the estimator's state size from its ``Rule.init``."""
    sizes = (8,) if quick else (8, 16, 32, 64)
    names = ("uoro", "tbptt50") if quick else ("rtrl_jac", "uoro", "kfrtrl", "snap1", "rflo",
                                               "eprop", "tbptt50")
    T, rows = 50, []
    for H in sizes:
        problem = make_problem("rnn", hidden=H, steps=T, batch=1, inputs=2, outputs=1)
        for name in names:
            fn, _ = resolve(name)
            key = jax.random.PRNGKey(0)
            jax.block_until_ready(fn(*problem[:6], key=key))
            times = []
            for _ in range(5):
                t = time.perf_counter()
                jax.block_until_ready(fn(*problem[:6], key=key))
                times.append(time.perf_counter() - t)
            rows.append({"estimator": name, "H": H, "us_per_step": 1e6 * np.median(times) / T,
                         "state_numbers": _state_numbers(name, problem)})
    runs.write_csv(out / "cost.csv", rows)
    return rows


def _state_numbers(name, problem):
    """Numbers the estimator carries per sequence (its Rule's state), or T·S for BPTT's stored
    states."""
    if name.startswith("tbptt"):
        return int(problem.xs.shape[0] * problem.params["cell"]["W_hh"].shape[0])
    make, _ = resolve_rule(name, problem.cell)
    fc = flat_cell(problem.cell, problem.params["cell"])
    state = jax.eval_shape(lambda: make(fc).init(fc, problem.params["cell"]))
    return int(sum(np.prod(a.shape) for a in jax.tree_util.tree_leaves(state)))


def _smooth(losses, width):
    width = max(1, min(width, len(losses)))
    return np.convolve(losses, np.ones(width) / width, mode="valid")


def alignment_table(rows) -> str:
    """Markdown: one row per (task, T, stage), cosine / relative error per estimator."""
    names = list(dict.fromkeys(r["estimator"] for r in rows))
    keys = list(dict.fromkeys((r["task"], r["T"], r["stage"]) for r in rows))
    cell = {(r["task"], r["T"], r["stage"], r["estimator"]): r for r in rows}
    lines = ["| task | T | params | " + " | ".join(names) + " |",
             "|---|---|---|" + "---|" * len(names)]
    for k in keys:
        lines.append(f"| {k[0]} | {k[1]} | {k[2]} | " + " | ".join(
            f"{cell[k + (n,)]['cos']:.3f} / {cell[k + (n,)]['rel']:.2g}" if k + (n,) in cell
            else "-" for n in names) + " |")
    return "\n".join(lines)


def curves_table(result) -> str:
    lines = ["| task | method | every | first 10% | last 10% | seconds |", "|---|---|---|---|---|---|"]
    for task, methods in result.items():
        for m, v in methods.items():
            n = max(1, len(v["losses"]) // 10)
            lines.append(f"| {task} | {m} | {v['every']} | {np.mean(v['losses'][:n]):.4f} | "
                         f"{np.mean(v['losses'][-n:]):.4f} | {v['seconds']:.1f} |")
    return "\n".join(lines)


def cost_table(rows) -> str:
    names = list(dict.fromkeys(r["estimator"] for r in rows))
    sizes = sorted({r["H"] for r in rows})
    cell = {(r["estimator"], r["H"]): r for r in rows}
    lines = ["| estimator | " + " | ".join(f"H={h}: µs/step, state" for h in sizes) + " |",
             "|---|" + "---|" * len(sizes)]
    for n in names:
        lines.append(f"| {n} | " + " | ".join(
            f"{cell[n, h]['us_per_step']:.0f}, {cell[n, h]['state_numbers']:,}" for h in sizes)
            + " |")
    return "\n".join(lines)


def trained_table(trained) -> str:
    """Markdown: the trained models' losses (adding: MSE, predicting the mean scores 1/6)."""
    lines = ["| task | T | BPTT episodes × batch, Adam lr | loss, first 10% | loss, last 10% |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['task']} | {r['T']} | {r['episodes']} × {r['batch']}, {r['lr']:g} | "
              f"{r['first']:.4f} | {r['last']:.4f} |" for r in trained]
    return "\n".join(lines)


def run_study(out, quick: bool, parts=("alignment", "curves", "cost"),
              tasks=TASKS) -> str:
    """Runs the ``parts`` (curves: of ``tasks``) into ``out``; returns their Markdown."""
    from jaxrnn.plots.common import line_plot, save

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rows, trained = alignment(out, quick) if "alignment" in parts else ([], [])
    t1 = time.perf_counter()
    result = curves(out, quick, tasks) if "curves" in parts else {}
    t2 = time.perf_counter()
    costs = cost(out, quick) if "cost" in parts else []
    t3 = time.perf_counter()
    figs = []
    for task, methods in result.items():
        series = {m: _smooth(v["losses"], 10) for m, v in methods.items()}
        x = np.arange(1, len(next(iter(series.values()))) + 1)
        save(line_plot(x, series, title=f"online training, {task} (10-episode mean)",
                       xlabel="episode", ylabel="loss", logy=True), out / f"curves_{task}.png")
        figs.append(f"![{task}](curves_{task}.png)")
    parts_md = []
    if rows:
        parts_md += [f"### Alignment with the exact gradient, cell params (cosine / relative "
                     f"error; {t1 - t0:.0f} s)", alignment_table(rows)]
    if trained:
        parts_md += ["Trained models (each episode fresh data):", trained_table(trained)]
    if result:
        parts_md += [f"### Online training ({t2 - t1:.0f} s)", curves_table(result), *figs]
    if costs:
        parts_md += [f"### Cost per step, vanilla RNN, T=50, B=1 ({t3 - t2:.0f} s)",
                     cost_table(costs)]
    return "\n\n".join(parts_md)


def section(out_dir, quick: bool = True) -> str:
    """The ``jaxrnn reproduce`` section (quick: small sizes, under a minute)."""
    jax.config.update("jax_enable_x64", True)
    body = run_study(Path(out_dir), quick)
    body = body.replace("](curves_", f"]({Path(out_dir).name}/curves_")  # from the report's dir
    flag = " --quick" if quick else ""
    return "\n\n".join(["## Online gradient estimators", "Command: `python -m "
                        f"jaxrnn.tasks.online.study{flag} --out {out_dir}` (experiments/online.md)",
                        body]) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/online-study")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--parts", default="alignment,curves,cost",
                        help="comma-separated subset of alignment,curves,cost")
    parser.add_argument("--tasks", default=",".join(TASKS),
                        help="the learning curves' tasks (comma-separated)")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    text = run_study(Path(args.out), args.quick, tuple(args.parts.split(",")),
                     tuple(args.tasks.split(",")))
    runs.atomic_write_bytes(Path(args.out) / "study.md", text.encode())
    print(text)


if __name__ == "__main__":
    main()
