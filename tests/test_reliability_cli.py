"""Issue 13 through the ``jaxrnn`` command, besides char: write failures (faked with monkeypatch:
the tests run as root, where chmod stops nothing), the one divergence rule in sine, demo and
sweeps, gradcheck comparing nothing, spec files that name themselves, JSON without NaN."""
import errno
import json
import math
import pathlib

import numpy as np
import pytest

from jaxrnn import train
from jaxrnn.cli import main as cli
from jaxrnn.io import runs
from jaxrnn.sweep import report as sweep_report
from jaxrnn.sweep import runner as sweep_runner
from jaxrnn.sweep.spec import spec_from_dict

SINE = ["sine", "--preset", "vidhya", "--quiet", "--no-figures", "--n_points=14",
        "--x_stop=13", "--seq_len=5", "--hidden=4", "--bptt_window=2", "--epochs=2",
        "--dtype=float64", "--forecast_steps=5", "--forecast_starts=2"]


def test_diverged_rule_against_plain_python():
    losses = [1.0, 2.9, 3.1, math.nan, math.inf, -math.inf]
    want = [not math.isfinite(x) or x > 3.0 * 1.0 for x in losses]
    assert np.asarray(train.diverged(np.array(losses), 1.0, 3.0)).tolist() == want


def _deny(e):
    def raise_(*args, **kwargs):
        raise e
    return raise_


@pytest.mark.parametrize("patch,code,words", [
    ("mkdir", errno.EACCES, "Permission denied; you cannot write there"),
    ("mkstemp", errno.EROFS, "Read-only file system"),
    ("fsync", errno.ENOSPC, "No space left on device; the disk is full")])
def test_write_failures_are_one_line_exit_1(tmp_path, monkeypatch, capsys, patch, code, words):
    """Items 5-6: --out in a read-only folder, a full disk: one line naming the file, status 1
    (was a PermissionError/OSError traceback). Faked: tests run as root."""
    out = tmp_path / "ro" / "demo"
    e = OSError(code, __import__("os").strerror(code), str(out) if patch == "mkdir" else None)
    target = {"mkdir": (pathlib.Path, "mkdir"), "mkstemp": (runs.tempfile, "mkstemp"),
              "fsync": (runs.os, "fsync")}[patch]
    monkeypatch.setattr(*target, _deny(e))
    assert cli.main(["demo", "--out", str(out), "--steps=3"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and str(out) in err
    if patch != "mkdir":
        assert str(out / "config.json") in err


def test_an_unexpected_os_error_keeps_its_traceback(tmp_path, monkeypatch):
    monkeypatch.setattr(runs.os, "fsync", _deny(OSError(errno.EIO, "I/O error")))
    with pytest.raises(OSError, match="I/O error"):
        cli.main(["demo", "--out", str(tmp_path / "d"), "--steps=3"])


def _strict(path):
    return json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"bare {c}"))


def test_sine_diverges_with_a_message_exit_1(tmp_path, capsys):
    """Item 9: lr 1e6 was 'RMSE 15996353', status 0; now the one rule stops it."""
    out = tmp_path / "s"
    assert cli.main(SINE + ["--learning_rate=1e6", "--clip=none", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "diverged in epoch 1" in err and "--learning_rate=100000" in err
    assert _strict(out / "summary.json")["status"] == "diverged"
    assert cli.main(SINE + ["--learning_rate=0.05", "--out", str(tmp_path / "ok")]) == 0
    assert _strict(tmp_path / "ok" / "summary.json")["status"] == "completed"


def test_demo_diverges_with_a_message_exit_1(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path / "d"), "--steps=20", "--hidden=4",
                     "--learning_rate=1e6"]) == 1
    assert "training diverged at step" in capsys.readouterr().err
    assert _strict(tmp_path / "d" / "summary.json")["status"] == "diverged"


def test_sweep_marks_a_diverged_run_and_keeps_it(tmp_path):
    """Item 9: a run with lr 1e6 stays in results.csv, marked diverged, counted in the table
    and left out of the mean (which it would swamp)."""
    spec = spec_from_dict({
        "name": "div", "task": "sine", "preset": "vidhya",
        "base": {"n_points": 14, "x_stop": 13.0, "seq_len": 5, "hidden": 4, "bptt_window": 2,
                 "epochs": 2, "dtype": "float64", "clip": "none"},
        "grid": {"learning_rate": [0.05, 1e6]}, "seeds": [0]})
    out = sweep_runner.run_sweep(spec, tmp_path / "sw", log=None, report=False)
    rows = runs.read_csv(out / "results.csv")
    assert [(r["learning_rate"], r["diverged"]) for r in rows] == [(0.05, 0), (1e6, 1)]
    agg = sweep_report.aggregate(rows, ["learning_rate"], ["val_rmse"])
    assert [e["diverged"] for e in agg] == [0, 1]
    assert agg[1]["val_rmse"]["n"] == 0 and agg[0]["val_rmse"]["n"] == 1


def test_gradcheck_comparing_nothing_is_an_error(capsys):
    """Item 12: finite differences skip a truncated window; nothing left to compare (was PASS)."""
    assert cli.main(["gradcheck", "--window", "5", "--methods", "finite_diff"]) == 2
    err = capsys.readouterr().err
    assert "nothing was compared" in err and "stop_gradient" in err


@pytest.mark.parametrize("name,content", [("s.json", b"\x89PNG\x00\xff"),
                                          ("s.toml", b"task = [unclosed"),
                                          ("s.json", b"[1, 2]")])
def test_bad_spec_files_name_themselves(tmp_path, capsys, name, content):
    """Item 13: a binary, a malformed TOML and a non-object spec name the file."""
    path = tmp_path / name
    path.write_bytes(content)
    assert cli.main(["sweep", str(path), "--out", str(tmp_path / "o")]) == 2
    assert str(path) in capsys.readouterr().err


def test_json_files_hold_null_not_nan(tmp_path):
    """Item 14: NaN/inf (also in arrays) are written as null: the file is strict JSON."""
    runs.write_json(tmp_path / "x.json", {"a": math.nan, "b": [1.0, math.inf],
                                          "c": np.array([np.nan, 2.0]), "d": 3})
    assert _strict(tmp_path / "x.json") == {"a": None, "b": [1.0, None], "c": [None, 2.0],
                                            "d": 3}
