"""Config overrides, the CLI's error messages, the train step and the demo."""
import dataclasses
import json
from typing import Optional

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrnn import optim, train

from jaxrnn.cli import main as cli

from jaxrnn.io import config, runs
from jaxrnn.cells import get_cell
from jaxrnn.model import init_model, sequence_loss


@dataclasses.dataclass(frozen=True)
class Toy:
    hidden: int = 4
    lr: float = 0.1
    name: str = "a"
    flag: bool = False
    window: Optional[int] = None
    sizes: tuple[int, ...] = (1, 2)


def test_override_parses_by_field_type():
    cfg = config.override(Toy(), {"hidden": "8", "lr": "1e-3", "flag": "true", "window": "5",
                                  "sizes": "3,4"})
    assert cfg == Toy(hidden=8, lr=1e-3, flag=True, window=5, sizes=(3, 4))
    assert config.override(Toy(window=3), {"window": "none"}).window is None


@pytest.mark.parametrize("changes,err,match", [
    ({"hiden": "8"}, ValueError, r"unknown config field 'hiden' \(did you mean 'hidden'\?\)"),
    ({"hidden": "eight"}, TypeError, "hidden must be int; got 'eight'"),
    ({"hidden": 2.5}, TypeError, "hidden must be int"),
    ({"flag": "maybe"}, TypeError, "flag must be a bool"),
    ({"lr": "fast"}, TypeError, "lr must be float"),
])
def test_override_refuses_bad_input(changes, err, match):
    with pytest.raises(err, match=match):
        config.override(Toy(), changes)


def test_parse_overrides():
    assert config.parse_overrides(["--a=1", "--b", "x"]) == {"a": "1", "b": "x"}
    with pytest.raises(ValueError, match="needs a value"):
        config.parse_overrides(["--a"])
    with pytest.raises(ValueError, match="expected --field=value"):
        config.parse_overrides(["a=1"])


def test_train_step_changes_every_leaf_and_traces_once(key):
    cell = get_cell("lstm")
    params = init_model(key, "lstm", 1, 8, 1)
    xs = jax.random.normal(key, (10, 4, 1))
    ys = jnp.zeros((4, 1))
    opt = optim.make_optimizer("adam", 1e-2, clip="global_norm", clip_value=1.0)

    def loss_fn(p, batch):
        return sequence_loss(cell, p, *batch, "last")[0], {}

    step = jax.jit(chex.assert_max_traces(train.make_train_step(loss_fn, opt), n=1))
    state = opt.init(params)
    new, state, metrics = step(params, state, (xs, ys))
    grads = jax.grad(lambda p: loss_fn(p, (xs, ys))[0])(params)
    norm = np.sqrt(sum(np.sum(np.asarray(g, np.float64) ** 2)
                       for g in jax.tree_util.tree_leaves(grads)))
    np.testing.assert_allclose(metrics["grad_norm"], norm, rtol=1e-6)  # float32 params
    tight = optim.make_optimizer("adam", 1e-2, clip="global_norm", clip_value=0.1)
    clipped = jax.jit(train.make_train_step(loss_fn, tight))(params, tight.init(params), (xs, ys))
    assert norm > 0.1  # clipping to 0.1 is active: a norm taken after clipping would read 0.1
    np.testing.assert_allclose(clipped[2]["grad_norm"], norm, rtol=1e-6)
    for path, (a, b) in zip(jax.tree_util.tree_leaves_with_path(params),
                            zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(new))):
        assert not np.array_equal(a, b), f"{path} did not change"
    for _ in range(3):
        new, state, metrics = step(new, state, (xs, ys))
    assert np.isfinite(metrics["loss"]) and metrics["grad_norm"] > 0
    chex.clear_trace_counter()


def test_a_few_dozen_steps_lower_the_loss_on_a_sine(key):
    cell = get_cell("rnn")
    params = init_model(key, "rnn", 1, 16, 1, dtype=jnp.float64)
    t = jnp.arange(40)[:, None] + jnp.arange(12)[None, :]
    series = jnp.sin(0.3 * t)
    xs, ys = series[:, :-1].T[..., None], series[:, -1:]

    def loss_fn(p, batch):
        return sequence_loss(cell, p, *batch, "last")[0], {}

    opt = optim.make_optimizer("adam", 1e-2)
    step = train.make_train_step(loss_fn, opt)
    batches = (jnp.broadcast_to(xs, (40,) + xs.shape), jnp.broadcast_to(ys, (40,) + ys.shape))
    _, _, metrics = jax.jit(lambda p: train.scan_steps(step, p, opt.init(p), batches))(params)
    assert metrics["loss"][-1] < 0.2 * metrics["loss"][0]


def test_demo_writes_its_run_directory(tmp_path):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--steps=30", "--hidden=8"]) == 0
    for name in ("config.json", "metrics.csv", "summary.json", "loss.png", "predictions.png"):
        assert (out / name).exists(), name
    saved = json.loads((out / "config.json").read_text())
    assert saved["config"]["steps"] == 30 and "jax" in saved["versions"]
    losses = [float(r["train_loss"]) for r in runs.read_csv(out / "metrics.csv")]
    summary = json.loads((out / "summary.json").read_text())
    assert len(losses) == 30 and summary["final_train_mse"] == losses[-1]
    assert max(losses[-5:]) < 0.5 * losses[0], losses  # the loss falls
    series = np.sin(np.linspace(0.0, 60.0, 600))  # the documented demo series, default split
    truth = series[20 + int(0.8 * (600 - 20)):]  # next values of the test windows
    zero_rmse = np.sqrt(np.mean(truth ** 2))
    assert 0 < summary["test_rmse"] < 0.5 * zero_rmse
    assert cli.main(["demo", "--out", str(out)]) == 2  # refuses to overwrite a run


def test_demo_accepts_the_old_window_field_as_seq_len(capsys):
    from jaxrnn.tasks import demo

    cfg = config.from_preset(demo.PRESETS, "demo", config.parse_overrides(["--window=12"]))
    assert cfg.seq_len == 12 and "'window' is now 'seq_len'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="n_points must be >= seq_len"):
        config.override(demo.Config(), {"seq_len": "595"})


@pytest.mark.parametrize("argv,message", [
    (["demo", "--hiden=3"], "unknown config field 'hiden' (did you mean 'hidden'?)"),
    (["demo", "--hidden=abc"], "hidden must be int; got 'abc'"),
    (["demo", "--preset", "dmeo"], "unknown preset 'dmeo' (did you mean 'demo'?)"),
    (["demo", "--cell=conv"], "unknown cell 'conv'"),
])
def test_cli_refuses_bad_options_with_a_message(argv, message, capsys, tmp_path):
    assert cli.main(argv + ["--out", str(tmp_path / "x")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
