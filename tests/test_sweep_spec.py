"""Sweep specs (validation, files, command line), grouping into programs, and the report's
statistics."""
import json
import math
import types

import numpy as np
import pytest

from jaxrnn.cli import main as cli
from jaxrnn.sweep.report import aggregate, markdown_table, t_interval
from jaxrnn.sweep.spec import (expand, group_programs, load_spec, parse_seeds, quick_spec,
                               spec_from_dict)
from jaxrnn.sweep.studies import STUDIES, study_path

BASE = {"task": "sine", "preset": "adam-rnn", "base": {"epochs": 2}}


@pytest.mark.parametrize("changes, err, match", [
    ({"grdi": {}}, ValueError, "unknown spec key 'grdi' \\(did you mean 'grid'\\?\\)"),
    ({"task": "chess"}, ValueError, "unknown task 'chess'"),
    ({"preset": "nope"}, ValueError, "unknown preset 'nope'"),
    ({"base": {"epoch": 3}}, ValueError, "unknown config field 'epoch'.*did you mean 'epochs'"),
    ({"grid": {"learning_rat": [0.1]}}, ValueError, "unknown config field 'learning_rat'"),
    ({"grid": {"hidden": ["big"]}}, TypeError, "hidden must be int"),
    ({"grid": {"hidden": []}}, ValueError, "grid field 'hidden' needs a non-empty list"),
    ({"grid": {"hidden": [4, 4]}}, ValueError, "lists a value twice"),
    ({"grid": {"seed": [1, 2]}}, ValueError, "list the seeds in 'seeds'"),
    ({"grid": {"epochs": [1, 2]}}, ValueError, "in both 'base' and 'grid'"),
    ({"seeds": [0, 0]}, ValueError, "lists a seed twice"),
    ({"seeds": [-1]}, TypeError, "ints >= 0"),
    ({"metric": "accuracy"}, ValueError, "metric 'accuracy' is not a sine metric"),
    ({"cases": [{"cell": "lstm", "activation": "sigmoid"}]}, ValueError, "activation applies"),
    ({"cases": [{"epochs": 4}]}, ValueError, "keep each field in one place"),
    ({"quick": {"steps": 3}}, ValueError, "'quick' may hold only"),
])
def test_bad_specs_are_refused_with_a_clear_message(changes, err, match):
    with pytest.raises(err, match=match):
        spec_from_dict({**BASE, **changes})


def test_numpy_init_seed_with_several_seeds_is_refused():
    spec = spec_from_dict({"task": "sine", "preset": "vidhya", "seeds": [0, 1]})
    with pytest.raises(ValueError, match="numpy_init_seed: -1"):
        expand(spec)


def test_grid_cases_and_seeds_expand_and_group_by_program():
    spec = spec_from_dict({**BASE, "cases": [{"cell": "rnn"}, {"cell": "gru"}],
                           "grid": {"optimizer": ["sgd", "adam"],
                                    "learning_rate": ["0.01", 0.1],
                                    "recurrent_init": ["orthogonal", "randn001"]},
                           "seeds": [3, 4]})
    assert spec.grid["learning_rate"] == (0.01, 0.1)  # strings typed by the field
    runs = expand(spec)
    assert len(runs) == 2 * 2 * 2 * 2 * 2
    assert [r.index for r in runs] == list(range(32))
    assert runs[0].point == {"cell": "rnn", "optimizer": "sgd", "learning_rate": 0.01,
                             "recurrent_init": "orthogonal"}
    assert [r.config.seed for r in runs[:2]] == [3, 4]
    groups = group_programs(spec, runs)
    # cell and optimizer change the program; learning rate, init and seed are batched
    assert [(g.static["cell"], g.static["optimizer"], len(g.runs)) for g in groups] == [
        ("rnn", "sgd", 8), ("rnn", "adam", 8), ("gru", "sgd", 8), ("gru", "adam", 8)]
    assert len({g.pid for g in groups}) == 4


def test_spec_files_json_and_toml(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({**BASE, "grid": {"hidden": [4, 8]}}))
    (tmp_path / "b.toml").write_text('task = "sine"\npreset = "adam-rnn"\nseeds = [1, 2]\n'
                                     '[base]\nepochs = 2\n[grid]\nhidden = [4, 8]\n')
    a, b = load_spec(tmp_path / "a.json"), load_spec(tmp_path / "b.toml")
    assert a.grid == b.grid == {"hidden": (4, 8)} and b.seeds == (1, 2)
    (tmp_path / "c.yaml").write_text("task: sine")
    with pytest.raises(ValueError, match="must end in .json or .toml"):
        load_spec(tmp_path / "c.yaml")
    (tmp_path / "d.json").write_text("{task: sine")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_spec(tmp_path / "d.json")


def test_every_shipped_study_is_valid_with_five_seeds():
    for name in STUDIES:
        spec = load_spec(study_path(name))
        assert len(spec.seeds) >= 5, name
        assert expand(spec) and expand(quick_spec(spec)), name


def test_parse_seeds():
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    with pytest.raises(ValueError, match="0-4 or 0,1,2"):
        parse_seeds("a-b")


@pytest.mark.parametrize("argv, message", [
    (["sweep"], "give a spec file"),
    (["sweep", "--task", "sine", "--grid", "hiden=3,4"], "unknown config field 'hiden'"),
    (["sweep", "--task", "sine", "--set", "epochs"], "--set expects FIELD=VALUE"),
    (["sweep", "missing.json"], "not found"),
])
def test_cli_refuses_bad_input_with_exit_2(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_t_interval_matches_the_textbook_formula():
    x = [1.0, 2.0, 4.0, 7.0, 11.0]
    s = t_interval(x + [math.nan])  # the NaN (a diverged run) is left out
    mean, sd = np.mean(x), np.std(x, ddof=1)
    half = 2.7764451051977987 * sd / math.sqrt(5)  # t_{0.975, 4} from tables
    assert s["n"] == 5 and s["mean"] == pytest.approx(mean, rel=1e-14)
    assert s["std"] == pytest.approx(sd, rel=1e-14)
    assert (s["lo"], s["hi"]) == pytest.approx((mean - half, mean + half), rel=1e-12)
    assert math.isnan(t_interval([3.0])["lo"]) and t_interval([])["n"] == 0


def test_aggregate_and_table():
    rows = [{"lr": lr, "seed": s, "loss": lr * 10 + s} for lr in (0.1, 0.2) for s in range(3)]
    rows.append({"lr": 0.2, "seed": 3, "loss": math.inf})
    agg = aggregate(rows, ["lr"], ["loss"])
    assert [(e["lr"], e["seeds"], e["diverged"]) for e in agg] == [(0.1, 3, 0), (0.2, 4, 1)]
    assert agg[1]["loss"]["mean"] == pytest.approx(3.0)
    table = markdown_table(agg, ["lr"], "loss")
    assert table.splitlines()[0].startswith("| lr | seeds | diverged | loss mean")
    assert "| 0.2 | 4 | 1 | 3 |" in table


def test_cli_devices_takes_the_first_n_and_refuses_more_than_visible(monkeypatch, tmp_path,
                                                                   capsys):
    """--devices N hands the runner the first N devices (0: None, all); N above the visible
    count is refused with exit 2 (it would silently run on fewer)."""
    import jax

    from jaxrnn.sweep import runner

    seen = []
    monkeypatch.setattr(runner, "run_sweep", lambda spec, out, **kw: seen.append(kw["devices"]))
    fake = [types.SimpleNamespace(name=f"d{i}", process_index=0) for i in range(3)]
    monkeypatch.setattr(jax, "devices", lambda *a: fake)
    monkeypatch.setattr(jax, "local_device_count", lambda *a: len(fake))
    argv = ["sweep", "--task", "memory", "--out", str(tmp_path / "x"), "--no-report"]
    assert cli.main(argv + ["--devices", "2"]) == 0 and cli.main(argv) == 0
    assert seen == [fake[:2], None]
    monkeypatch.undo()
    capsys.readouterr()
    n = len(jax.devices())
    assert cli.main(argv + ["--devices", str(n + 1)]) == 2
    assert f"--devices {n + 1}: only {n} device(s) are visible" in capsys.readouterr().err
    assert cli.main(argv + ["--devices", "-1"]) == 2
    assert "must be >= 0" in capsys.readouterr().err
