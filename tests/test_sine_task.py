"""The sine task: configs, the jitted per-sample SGD against a numpy Python loop, smoke tests,
the run directory and the command line."""
import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrnn import train

from jaxrnn.cli import main as cli

from jaxrnn.io import runs
from jaxrnn.io.config import from_preset, override, parse_overrides
from jaxrnn.tasks.sine import main as sine
from jaxrnn.tasks.sine.config import PRESETS
from jaxrnn.tasks.sine.fit import (epoch_batches, init_params, make_evaluate, make_loss_fn,
                                   make_run_chunk)
import sine_reference as ref

TINY_VLASOV = dataclasses.replace(
    PRESETS["vlasov"], n_points=16, x_stop=6.0, seq_len=4, train_fraction=0.6, hidden=3,
    epochs=3, log_every=2, dtype="float64", learning_rate=0.5, clip_value=0.02,
    forecast_steps=5, forecast_starts=2)
TINY_VIDHYA = dataclasses.replace(
    PRESETS["vidhya"], n_points=14, x_stop=13.0, seq_len=5, hidden=4, bptt_window=2, epochs=2,
    dtype="float64", learning_rate=0.05, clip_value=0.5, forecast_steps=5, forecast_starts=2,
    log_every=2)
TINY_LAST = dataclasses.replace(TINY_VLASOV, loss="last", loss_scale=0.5, bptt_window=3,
                                clip="none", learning_rate=0.2, seq_len=6, n_points=20,
                                log_every=3)


def _np_params(params):
    return {k: np.asarray(v, np.float64) for d in params.values() for k, v in d.items()}


@pytest.mark.parametrize("cfg", [TINY_VLASOV, TINY_VIDHYA, TINY_LAST],
                         ids=["vlasov_all_steps_clip", "vidhya_position_trunc2", "last_trunc3"])
def test_per_sample_scan_equals_numpy_python_loop(cfg, key):
    cfg.validate()
    data = sine.build_data(cfg)
    p0 = init_params(cfg, key, data.xe_train.shape[-1], 1, jnp.float64)
    params, history, _ = sine.fit(cfg, data, p0, key, progress=False)
    X, Y = np.asarray(data.xe_train), data.split.y_train
    want = ref.per_sample_sgd(
        _np_params(p0), X, Y, epochs=cfg.epochs, lr=cfg.learning_rate,
        activation=cfg.activation, name=cfg.loss, scale=cfg.loss_scale, window=cfg.bptt_window,
        clip_value=None if cfg.clip == "none" else cfg.clip_value)
    got = _np_params(params)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-10, atol=1e-13, err_msg=k)
    losses = [ref.loss(want, x, y, cfg.activation, cfg.loss, cfg.loss_scale) for x, y in zip(X, Y)]
    total = np.sum(losses) if cfg.loss == "last_half_sum" else np.mean(losses)
    assert [r["epoch"] for r in history] == list(range(cfg.epochs + 1))
    np.testing.assert_allclose(history[-1]["train_loss"], total, rtol=1e-10)


def test_vidhya_init_replays_the_published_first_epoch_losses():
    """numpy seed 42 draws of U, W, V and the same forward give the published epoch-1 losses."""
    cfg = dataclasses.replace(PRESETS["vidhya"], dtype="float64")
    data = sine.build_data(cfg)
    params = init_params(cfg, None, 50, 1, jnp.float64)
    got = jax.jit(make_evaluate(cfg, data))(params)
    rs = np.random.RandomState(42)
    p = {"W_xh": rs.uniform(0, 1, (100, 50)), "W_hh": rs.uniform(0, 1, (100, 100)),
         "W_hy": rs.uniform(0, 1, (1, 100))}
    s = np.sin(np.arange(200.0))
    want = []
    for lo, hi in ((0, 100), (100, 150)):
        want.append(sum(ref.loss(p, np.diag(s[i:i + 50]), s[i + 50:i + 51], "sigmoid",
                                 "last_half_sum") for i in range(lo, hi)))
    np.testing.assert_allclose([got["train_loss"], got["val_loss"]], want, rtol=1e-10)
    assert (round(want[0], 1), round(want[1], 1)) == (101185.6, 50591.0)  # SEEDS.md A


def _sub_jaxprs(eqn):
    for v in eqn.params.values():
        for item in (v if isinstance(v, (tuple, list)) else (v,)):
            if hasattr(item, "eqns"):
                yield item
            elif hasattr(item, "jaxpr") and hasattr(item.jaxpr, "eqns"):
                yield item.jaxpr


def _scan_lengths(jaxpr):
    """[(length, nested lengths)] of the outermost scans of a jaxpr, found at any depth."""
    out = []
    for e in jaxpr.eqns:
        if e.primitive.name == "scan":
            out.append((e.params["length"], [n for sub in _sub_jaxprs(e)
                                             for n in _all_scan_lengths(sub)]))
        else:
            for sub in _sub_jaxprs(e):
                out.extend(_scan_lengths(sub))
    return out


def _all_scan_lengths(jaxpr):
    return [n for length, nested in _scan_lengths(jaxpr) for n in [length] + nested]


def test_per_sample_sgd_is_one_scan_over_samples_inside_a_scan_over_epochs(key):
    cfg = TINY_VLASOV
    data = sine.build_data(cfg)
    p0 = init_params(cfg, key, 1, 1, jnp.float64)
    opt = sine.make_optimizer(cfg, len(data.split.x_train))
    chunk = make_run_chunk(cfg, data, opt)
    jaxpr = jax.make_jaxpr(chunk)(p0, opt.init(p0), jax.random.split(key, 2), 1).jaxpr
    outer = _scan_lengths(jaxpr)
    assert [length for length, _ in outer] == [2]  # one scan: the chunk's 2 epochs
    assert len(data.split.x_train) in outer[0][1]  # inside it, one step per training sample


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_smoke_one_step_moves_every_leaf_and_steps_lower_the_loss(cell, key):
    cfg = dataclasses.replace(PRESETS["adam-rnn"], cell=cell, n_points=60, x_stop=12.0,
                              seq_len=6, scan_unroll=1, hidden=8, batch_size=16,
                              learning_rate=2e-2, dtype="float64")
    data = sine.build_data(cfg)
    p0 = init_params(cfg, key, 1, 1, jnp.float64)
    opt = sine.make_optimizer(cfg, len(data.split.x_train))
    step = jax.jit(train.make_train_step(make_loss_fn(cfg), opt))
    xs, ys = epoch_batches(cfg, key, data.xe_train, jnp.asarray(data.split.y_train))
    batch = (xs[0], ys[0])
    p, s, m = step(p0, opt.init(p0), batch)
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(p0),
                            jax.tree_util.tree_leaves(p)):
        assert not np.allclose(a, b), f"{cell}: leaf {path} did not move"
    first = float(m["loss"])
    for i in range(40):
        p, s, m = step(p, s, (xs[i % len(xs)], ys[i % len(ys)]))
    assert float(step(p, s, batch)[2]["loss"]) < 0.5 * first  # the loss at p, before the step


def test_epoch_batches_shapes_and_shuffle(key):
    X, Y = jnp.arange(10 * 4 * 2.0).reshape(10, 4, 2), jnp.arange(10.0)[:, None]
    base = dataclasses.replace(PRESETS["vlasov"])
    x, y = epoch_batches(base, key, X, Y)
    assert x.shape == (10, 4, 2) and np.array_equal(y, Y)  # per-sample, time order
    x, y = epoch_batches(dataclasses.replace(base, batch_size=0), key, X, Y)
    assert x.shape == (1, 4, 10, 2) and np.array_equal(x[0, :, 3], X[3])
    x, y = epoch_batches(dataclasses.replace(base, batch_size=3, shuffle=True), key, X, Y)
    assert x.shape == (3, 4, 3, 2) and y.shape == (3, 3, 1)
    picked = np.asarray(y).ravel()
    assert len(set(picked)) == 9 and not np.array_equal(picked, np.arange(9.0))
    np.testing.assert_array_equal(x[1, :, 2], X[int(y[1, 2, 0])])


def test_every_preset_validates_and_the_first_is_vidhya():
    assert next(iter(PRESETS)) == "vidhya"
    for cfg in PRESETS.values():
        cfg.validate()


@pytest.mark.parametrize("changes, match", [
    ({"seq_len": 0}, "seq_len"), ({"series": "square"}, "series"),
    ({"train_fraction": 1.0}, "train_fraction"), ({"learning_rate": 0.0}, "learning_rate"),
    ({"cell": "lstm", "activation": "tanh"}, "numpy_init_seed"), ({"series": "sincos"}, "encoding"),
    ({"optimizer": "adamw"}, "optimizer"), ({"input_init": "he"}, "initialiser"),
    ({"n_points": 40}, "n_points"), ({"batch_size": -1}, "batch_size"),
    ({"dtype": "float16"}, "dtype"), ({"loss": "xent_sum"}, "loss"),
])
def test_bad_values_are_refused_with_the_field_named(changes, match):
    with pytest.raises(ValueError, match=match):
        override(PRESETS["vidhya"], changes)


def test_unknown_fields_types_and_presets_are_refused():
    with pytest.raises(ValueError, match="unknown config field 'epoch'"):
        from_preset(PRESETS, "vlasov", {"epoch": "3"})
    with pytest.raises(TypeError, match="epochs must be int"):
        from_preset(PRESETS, "vlasov", {"epochs": "many"})
    with pytest.raises(ValueError, match="unknown preset 'vlasof'"):
        from_preset(PRESETS, "vlasof")


def test_old_window_field_is_accepted_as_seq_len(capsys):
    cfg = from_preset(PRESETS, "vlasov", parse_overrides(["--window=12"]))
    assert cfg.seq_len == 12 and cfg == dataclasses.replace(PRESETS["vlasov"], seq_len=12)
    assert "'window' is now 'seq_len'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="seq_len"):
        override(PRESETS["vlasov"], {"window": "0"})


@pytest.mark.parametrize("argv", [["sine", "--preset", "nope"], ["sine", "--bogus=1"],
                                  ["sine", "--epochs=abc"], ["sine", "--seq_len=0"],
                                  ["sine", "--batch_size=500"]])
def test_cli_refuses_bad_input_with_exit_2(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("JAXRNN_CACHE_DIR", "off")  # keep the test process's jax config as is
    assert cli.main(argv + ["--out", str(tmp_path / "run")]) == 2
    assert "jaxrnn sine: error:" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before any run directory is made


def test_main_two_channels_minibatch(tmp_path, capsys):
    """``jaxrnn sine`` through the command's entry point, overrides and flags included."""
    out = tmp_path / "sc"
    assert cli.main(["sine", "--preset", "sincos", "--out", str(out), "--quiet", "--no-figures",
                     "--cell=rnn", "--n_points=80", "--x_stop=16.0", "--hidden=6", "--seq_len=6",
                     "--scan_unroll=1", "--batch_size=8", "--epochs=4", "--log_every=4",
                     "--eval_every=3", "--forecast_steps=6", "--forecast_starts=2"]) == 0
    assert capsys.readouterr().out == ""  # --quiet
    assert not list(out.glob("*.png"))  # --no-figures
    saved = json.loads((out / "config.json").read_text())["config"]
    assert (saved["cell"], saved["hidden"], saved["batch_size"]) == ("rnn", 6, 8)
    header = (out / "predictions.csv").read_text().splitlines()[0].split(",")
    assert {"truth_0", "truth_1", "model_0", "model_1", "linear_ar_1"} <= set(header)
    rows = runs.read_csv(out / "metrics.csv")
    evaluated = [int(r["epoch"]) for r in rows if np.isfinite(r["val_loss"])]
    assert evaluated == [0, 3, 4] and all(np.isfinite(r["grad_norm"]) for r in rows[1:])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["forecast"]["steps"] == 6 and summary["updates"] == 4 * (summary["n_train"] // 8)


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    """``jaxrnn reproduce`` with the sine section cut to a tiny vidhya run: (args, report dir)."""
    from jaxrnn.cli.main import build_parser
    from jaxrnn.tasks.sine import report as sine_report

    mp = pytest.MonkeyPatch()
    mp.setattr(sine_report, "PRESETS", {"vidhya": dataclasses.replace(TINY_VIDHYA, epochs=3)})
    mp.setattr(sine_report, "RUNS", ("vidhya",))
    mp.setattr(sine_report, "QUICK_EPOCHS", {"vidhya": 3})
    out = tmp_path_factory.mktemp("rep")
    args = build_parser("reproduce").parse_args(["reproduce", "--out", str(out), "--only",
                                                 "sine"])
    assert cli.main(["reproduce", "--out", str(out), "--only", "sine"]) == 0  # the entry point
    yield args, out
    mp.undo()


def test_main_writes_a_complete_run_directory_and_redraws(reproduced):
    _, rep = reproduced
    out = rep / "sine" / "vidhya"  # written by sine.main through the reproduce section
    names = {p.name for p in out.iterdir()}
    for f in ("config.json", "metrics.csv", "summary.json", "predictions.csv", "forecast.csv",
              "grad_steps.csv", "params.npz", "loss.png", "predictions.png", "forecast.png",
              "grad_steps.png"):
        assert f in names, f
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["rmse"]) == {"model", "zero", "last_value", "linear_ar",
                                    "published_loop_replay"}
    assert summary["compile_s"] > 0 and summary["train_s"] > 0
    rows = runs.read_csv(out / "predictions.csv")
    index = np.array([int(r["index"]) for r in rows])
    truth = np.sin(np.linspace(0.0, TINY_VIDHYA.x_stop, TINY_VIDHYA.n_points))[index]
    np.testing.assert_allclose([r["truth"] for r in rows], truth, rtol=1e-12, atol=1e-15)
    model = np.array([r["model"] for r in rows])
    np.testing.assert_allclose(summary["rmse"]["model"], np.sqrt(np.mean((model - truth) ** 2)),
                               rtol=1e-12)
    np.testing.assert_allclose(summary["rmse"]["zero"], np.sqrt(np.mean(truth ** 2)), rtol=1e-12)
    cfg = dataclasses.replace(TINY_VIDHYA, epochs=3)  # the numpy reference trains the same run
    data = sine.build_data(cfg)
    X, sp = np.asarray(data.xe_train), data.split
    rs = np.random.RandomState(cfg.numpy_init_seed)  # the documented numpy replay of U, W, V
    H = cfg.hidden
    p0 = {"W_xh": rs.uniform(0, 1, (H, X.shape[-1])), "W_hh": rs.uniform(0, 1, (H, H)),
          "W_hy": rs.uniform(0, 1, (1, H))}
    want = ref.per_sample_sgd(p0, X, sp.y_train, epochs=cfg.epochs, lr=cfg.learning_rate,
                              activation=cfg.activation, name=cfg.loss, scale=cfg.loss_scale,
                              window=cfg.bptt_window, clip_value=cfg.clip_value)
    with np.load(out / "params.npz") as saved:
        for k, v in want.items():
            group = "readout" if k == "W_hy" else "cell"
            np.testing.assert_allclose(saved[f"{group}/{k}"], v, rtol=1e-10, atol=1e-13)
    preds = np.array([ref.forward(want, xs, cfg.activation)[1][-1]
                      for xs in np.asarray(data.xe_test)])
    np.testing.assert_allclose(model, preds[:, 0], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(summary["rmse"]["model"],
                               np.sqrt(np.mean((preds - np.asarray(sp.y_test)) ** 2)), rtol=1e-10)
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["epochs"] == 3 and "jax" in config["versions"]
    metrics = (out / "metrics.csv").read_text().splitlines()
    assert metrics[0].startswith("epoch,") and len(metrics) == 1 + 4
    with pytest.raises(FileExistsError):
        sine.main(dataclasses.replace(TINY_VIDHYA, epochs=3), out, quiet=True)
    (out / "loss.png").unlink()
    from jaxrnn.plots.sine import draw_all
    draw_all(out)
    assert (out / "loss.png").stat().st_size > 1000


def test_reproduce_writes_a_report_and_reuses_finished_runs(reproduced, tmp_path):
    from jaxrnn.cli import reproduce
    from jaxrnn.cli.main import build_parser

    args, rep = reproduced
    report = (rep / "report.md").read_text()
    assert "| published epoch |" in report and "sine/vidhya/loss.png" in report
    summary = rep / "sine" / "vidhya" / "summary.json"
    stamp = summary.stat().st_mtime_ns
    assert reproduce.run(args) == 0  # the finished run is reused, not retrained
    assert summary.stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="unknown section"):
        reproduce.run(build_parser("reproduce").parse_args(
            ["reproduce", "--out", str(tmp_path / "x"), "--only", "chars"]))
