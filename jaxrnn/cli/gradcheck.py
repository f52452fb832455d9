"""``jaxrnn gradcheck``: cross-validate one loss's gradient by every method; exit 1 on mismatch.

Examples::

    jaxrnn gradcheck                                   # rnn tanh, all_steps loss, full BPTT
    jaxrnn gradcheck --cell lstm --loss xent_sum --window 3 --anchor end
    jaxrnn gradcheck --all --dtype float32             # every cell x loss x window
    jaxrnn gradcheck --all --lengths --resets          # the same with random lengths and resets
    jaxrnn gradcheck --cell gru_cho --lengths 8,5,2    # the Cho GRU, given lengths
    jaxrnn gradcheck --plot runs/gradflow              # plus gradient-flow diagnostics (PNG)
    jaxrnn gradcheck --methods rtrl_jac,uoro,kfrtrl,snap1,rflo,eprop,tbptt2 --samples 200
                                                       # online estimators (jaxrnn.online)
    jaxrnn gradcheck --cell lstm --methods autodiff_scan,deer   # the parallel-in-time gradient

Errors are relative to the manual BPTT, per parameter leaf (``jaxrnn.grad.gradcheck``). Exit status:
0 when every method agrees within tolerance, 1 when one does not, 2 on bad input.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax

from jaxrnn.cells import ACTIVATIONS, CELLS
from jaxrnn.grad.diagnostics import gradient_flow
from jaxrnn.grad.gradcheck import ALL_METHODS, DTYPES, METHODS, gradcheck, make_problem
from jaxrnn.model import LOSSES
from jaxrnn.online import NAMES, compare_estimators, format_estimators, is_estimator
from jaxrnn.plots.common import save
from jaxrnn.plots.gradflow import plot_gradient_flow

VARIANTS = (("rnn", "tanh"), ("rnn", "sigmoid"), ("rnn", "relu"), ("lstm", "tanh"),
            ("gru", "tanh"), ("gru_cho", "tanh"))


def _ints(what):
    def parse(text):
        if text == "random":
            return text
        try:
            return [int(v) for v in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be 'random' or comma-separated ints; "
                                             f"got {text!r}")
    return parse


def _window(text):
    if text.lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"window must be a positive int or 'none'; got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"window must be >= 1; got {value}")
    return value


def add_arguments(parser):
    """Registers the gradcheck options on ``parser``."""
    a = parser.add_argument
    a("--cell", choices=CELLS, default="rnn")
    a("--activation", choices=tuple(ACTIVATIONS), default="tanh", help="rnn only")
    a("--loss", choices=tuple(LOSSES), default="all_steps")
    a("--window", type=_window, default=None, help="truncation window k, or none (full BPTT)")
    a("--anchor", choices=("start", "end"), default="start")
    a("--hidden", type=int, default=4, help="H (default 4)")
    a("--steps", type=int, default=8, help="T (default 8)")
    a("--batch", type=int, default=3, help="B; 0 for unbatched inputs (default 3)")
    a("--inputs", type=int, default=3, help="D, or the one-hot size for xent losses (default 3)")
    a("--outputs", type=int, default=2, help="O (default 2)")
    a("--dtype", choices=DTYPES, default="float64")
    a("--seed", type=int, default=0)
    a("--methods", default=",".join(METHODS),
      help=f"comma-separated subset of {','.join(ALL_METHODS)} (default: all that apply but "
           f"deer; rtrl is rnn-only, finite_diff and deer untruncated-only), and/or online "
           f"estimators: {NAMES}")
    a("--samples", type=int, default=100, help="draws per stochastic online estimator (N)")
    a("--no-bias", action="store_true", help="drop b_h (rnn) and b_y, as the vidhya preset")
    a("--random-carry", action="store_true", help="start from a random (constant) carry0")
    a("--lengths", nargs="?", const="random", default=None, type=_ints("lengths"),
      help="variable lengths: random in [1, T] per sequence (no value), or B ints like 8,5,2")
    a("--resets", nargs="?", const="random", default=None, type=_ints("resets"),
      help="carry resets: random, each step and sequence with p 1/4 (no value), or steps 2,5")
    a("--all", action="store_true",
      help="every cell/activation x loss x window (none, k start, k end; k = --window or 3)")
    a("--json", action="store_true", help="print JSON instead of tables")
    a("--plot", metavar="DIR", default=None, help="write gradient-flow diagnostics to DIR")
    a("--corrupt", type=float, default=0.0, help=argparse.SUPPRESS)  # tests: a wrong gradient


def _settings(args, cell, activation, loss, window, anchor):
    return dict(cell=cell, activation=activation, loss=loss, window=window, anchor=anchor,
                hidden=args.hidden, steps=args.steps, batch=args.batch, inputs=args.inputs,
                outputs=args.outputs, dtype=args.dtype, seed=args.seed, bias=not args.no_bias,
                random_carry=args.random_carry, lengths=args.lengths, resets=args.resets,
                methods=args.methods.split(","),
                corrupt=args.corrupt)


def format_table(report) -> str:
    """The readable table of one ``GradcheckReport``: params down, methods across."""
    s = report.settings
    act = f"({s['activation']})" if s["cell"] == "rnn" else ""
    window = "none" if s["window"] is None else f"{s['window']} anchored at {s['anchor']}"
    batch = s["batch"] or "0 (unbatched)"
    lines = [f"gradcheck {s['cell']}{act}  loss={s['loss']}  window={window}  T={s['steps']} "
             f"B={batch} D={s['inputs']} H={s['hidden']} O={s['outputs']}  {s['dtype']}  "
             f"seed={s['seed']}  loss value {report.loss:.6g}",
             "relative error vs manual BPTT, per leaf: max|g - g_manual| / max|g_manual|"]
    methods = list(report.worst())
    params = list(dict.fromkeys(r["param"] for r in report.rows))
    cells = {(r["param"], r["method"]): r for r in report.rows}
    lines.append(f"{'param':<14}{'max|g|':>10}" + "".join(f"{m:>15}" for m in methods))
    for p in params:
        ref = next(r["ref_max"] for r in report.rows if r["param"] == p)
        lines.append(f"{p:<14}{ref:>10.2e}" + "".join(
            f"{cells[p, m]['rel']:>15.2e}" for m in methods))
    worst = report.worst()
    for label, key, fmt in (("max abs error", "max_abs", ".2e"), ("tolerance", "tol", ".0e")):
        lines.append(f"{label:<24}" + "".join(f"{worst[m][key]:>15{fmt}}" for m in methods))
    lines.append(f"{'result':<24}" + "".join(
        f"{'ok' if worst[m]['ok'] else 'MISMATCH':>15}" for m in methods))
    for m, why in report.skipped.items():
        lines.append(f"skipped {m}: {why}")
    for name in ("lengths", "resets"):
        if s.get(name) is not None:
            lines.append(f"{name}: {s[name]}")
    kinks = report.non_differentiable
    if kinks:
        lines.append(f"non-differentiable here: {sum(kinks.values())} entries ("
                     + ", ".join(f"{p} {n}" for p, n in kinks.items())
                     + ") have a ReLU pre-activation within the finite-difference step of its "
                       "kink; finite_diff is compared on the other entries only")
    lines.append("PASS: every method agrees with manual BPTT within tolerance" if report.passed
                 else "FAIL: some method disagrees with manual BPTT beyond tolerance")
    return "\n".join(lines)


def _row(report, overall, columns) -> str:
    s, worst = report.settings, report.worst()
    w = "none" if s["window"] is None else f"{s['window']}/{s['anchor']}"
    row = f"{s['cell'] + ('-' + s['activation'] if s['cell'] == 'rnn' else ''):<13}"
    row += f"{s['loss']:<14}{w:<9}"
    for m in columns:
        row += f"{worst[m]['rel']:>14.2e}" if m in worst else f"{'-':>14}"
        if m in worst:
            overall[m] = max(overall.get(m, 0.0), worst[m]["rel"])
    kinks = sum(report.non_differentiable.values())
    row += f"  ({kinks} non-differentiable here)" if kinks else ""
    return row + ("" if report.passed else "  MISMATCH")


def _columns(methods) -> list:
    """The table's method columns: the requested ones, in ``ALL_METHODS`` order."""
    return [m for m in ALL_METHODS if m in methods]


def _run_all(args) -> int:
    k = args.window or 3
    combos = [(cell, act, loss, w, a) for cell, act in VARIANTS for loss in LOSSES
              for w, a in ((None, "start"), (k, "start"), (k, "end"))]
    if not args.json:
        extra = "".join(f", {n} {getattr(args, n)}" for n in ("lengths", "resets")
                        if getattr(args, n) is not None)
        print(f"worst relative error vs manual BPTT per method ({args.dtype}, T={args.steps}, "
              f"B={args.batch}, H={args.hidden}{extra}; '-' = not applicable)")
        print(f"{'cell':<13}{'loss':<14}{'window':<9}"
              + "".join(f"{m:>14}" for m in _columns(args.methods.split(","))))
    reports, overall = [], {}
    for combo in combos:
        reports.append(gradcheck(**_settings(args, *combo)))
        if not args.json:
            print(_row(reports[-1], overall, _columns(args.methods.split(","))), flush=True)
    failed = sum(not r.passed for r in reports)
    if not any(r.rows for r in reports):
        raise ValueError("nothing was compared: every requested method was skipped in every "
                         "combination; choose --methods that apply here")
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], indent=1))
    else:
        print(f"{'worst overall':<36}" + "".join(
            f"{overall[m]:>14.2e}" if m in overall else f"{'-':>14}"
            for m in _columns(args.methods.split(","))))
        print(f"{len(reports) - failed}/{len(reports)} combinations pass")
    return 0 if failed == 0 else 1


def write_diagnostics(out_dir, **settings) -> Path:
    """Computes ``gradient_flow`` for ``make_problem(**settings)``, writes ``gradient_flow.json``
    and ``gradient_flow.png`` (drawn from the JSON) in ``out_dir``; returns the PNG's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    anchor = settings.get("anchor", "start")
    metrics = dict(gradient_flow(make_problem(**settings), anchor=anchor), settings=settings)
    (out / "gradient_flow.json").write_text(json.dumps(metrics, indent=1))
    s = settings
    act = f"({s.get('activation', 'tanh')})" if s.get("cell", "rnn") == "rnn" else ""
    title = (f"{s.get('cell', 'rnn')}{act}, loss {s.get('loss', 'all_steps')}, "
             f"T={s.get('steps')}, H={s.get('hidden')}, seed {s.get('seed', 0)}; truncation "
             f"windows anchored at {anchor}")
    metrics = json.loads((out / "gradient_flow.json").read_text())
    return save(plot_gradient_flow(metrics, title), out / "gradient_flow.png")


def run(args) -> int:
    """Runs the check(s); returns 0 (all agree), 1 (a mismatch)."""
    jax.config.update("jax_enable_x64", True)  # float64 problems and finite differences
    if args.plot and (args.lengths is not None or args.resets is not None):
        print("jaxrnn gradcheck: --plot draws full-length diagnostics; drop --lengths/--resets "
              "to plot, or drop --plot to check them")
        return 2
    exact, online = _split_methods(args)
    if online and (args.all or args.lengths is not None or args.resets is not None):
        print("jaxrnn gradcheck: online estimators run on one problem without --all, --lengths "
              "or --resets")
        return 2
    if args.all:
        return _run_all(args)
    if not exact:
        return _run_online(args, online)
    report = gradcheck(**_settings(args, args.cell, args.activation, args.loss, args.window,
                                   args.anchor))
    if not report.rows:
        raise ValueError("nothing was compared: every requested method was skipped (" + "; ".join(
            f"{m}: {why}" for m, why in report.skipped.items()) + "); choose --methods that "
            "apply here")
    print(json.dumps(report.to_dict(), indent=1) if args.json else format_table(report))
    if args.plot:
        path = write_diagnostics(args.plot, **{k: v for k, v in _settings(
            args, args.cell, args.activation, args.loss, args.window, args.anchor).items()
            if k not in ("methods", "corrupt")})
        if not args.json:
            print(f"diagnostics figure: {path}")
    online_ok = _run_online(args, online) == 0 if online else True
    return 0 if report.passed and online_ok else 1


def _split_methods(args):
    """(exact methods, online estimators) named by --methods; --methods keeps only the exact."""
    names = args.methods.split(",")
    for name in names:
        if name not in ALL_METHODS and not is_estimator(name):
            raise ValueError(f"unknown method {name!r}; expected some of "
                             f"{', '.join(ALL_METHODS)} "
                             f"or online estimators {NAMES}")
    exact = [n for n in names if n in ALL_METHODS]
    args.methods = ",".join(exact)
    return exact, [n for n in names if n not in ALL_METHODS]


def _run_online(args, names) -> int:
    """The online estimators' table (``jaxrnn.online.compare``); 1 if rtrl_jac mismatches."""
    if args.samples < 1:
        raise ValueError(f"--samples must be >= 1; got {args.samples}")
    settings = _settings(args, args.cell, args.activation, args.loss, args.window, args.anchor)
    problem = make_problem(**{k: v for k, v in settings.items() if k not in ("methods",
                                                                            "corrupt")})
    result = compare_estimators(problem, names, args.samples, args.seed, args.dtype)
    print(json.dumps(result, indent=1) if args.json else format_estimators(result, args.samples))
    return 0 if result["rows"].get("rtrl_jac", {}).get("ok", True) else 1
