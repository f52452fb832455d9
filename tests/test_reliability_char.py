"""Issue 13 through ``jaxrnn char`` and ``jaxrnn sample``: signals finish the step and save
(exit 130/143), damaged checkpoints and unstarted run directories, the divergence message, and
files that name themselves. Signals are sent to this process (``signal.raise_signal``) from
hooks inside the loop."""
import json
import math
import signal

import pytest

from char_common import cli_args, tiny, write_text
from jaxrnn.cli import main as cli
from jaxrnn.io import checkpoint, runs
from jaxrnn.tasks.char import loop
from jaxrnn.tasks.char import main as char
from jaxrnn.tasks.char.loop import TIMING, ckpt_path


@pytest.fixture
def text_file(tmp_path):
    return str(write_text(tmp_path))


def _rows(out):
    return [{k: v for k, v in r.items() if k not in TIMING}
            for r in runs.read_csv(out / "metrics.csv")]


def _signal_once(monkeypatch, module, name, signum, when=lambda *a: True):
    real, sent = getattr(module, name), []

    def hooked(*args, **kwargs):
        if not sent and when(*args):
            sent.append(signum)
            signal.raise_signal(signum)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, hooked)


@pytest.mark.parametrize("signum,status,where", [(signal.SIGINT, 130, "evaluate"),
                                                  (signal.SIGTERM, 143, "_row")])
def test_signal_finishes_the_step_saves_and_resume_equals_the_whole_run(
        text_file, tmp_path, monkeypatch, capsys, signum, status, where):
    """Items 1-2: a signal inside the validation pass (or after a chunk) lets the step finish
    with its evaluation and sample, saves, exits 128 + signum; resuming gives the whole run's
    metrics and samples (before: the row lost its val_loss, SIGTERM killed without saving)."""
    assert cli.main(cli_args(text_file, tmp_path / "whole")) == 0
    _signal_once(monkeypatch, loop, where, signum)
    part = tmp_path / "part"
    assert cli.main(cli_args(text_file, part)) == status
    err = capsys.readouterr().err
    assert signal.Signals(signum).name in err and "--resume" in err
    step = 8 if where == "evaluate" else 4
    assert checkpoint.load(ckpt_path(part, "latest"))[1]["step"] == step
    assert json.loads((part / "summary.json").read_text())["status"] == "interrupted"
    monkeypatch.undo()
    assert cli.main(cli_args(text_file, part) + ["--resume"]) == 0
    assert _rows(part) == _rows(tmp_path / "whole")
    assert (part / "samples.txt").read_text() == (tmp_path / "whole" / "samples.txt").read_text()


@pytest.mark.parametrize("signum,status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_start_up_is_one_line(text_file, tmp_path, monkeypatch, capsys, signum,
                                            status):
    """Item 7: Ctrl-C (or SIGTERM) while the run is set up: no traceback, status 130 (143)."""
    _signal_once(monkeypatch, char, "make_run", signum)
    assert cli.main(cli_args(text_file, tmp_path / "r")) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "interrupted" in err


@pytest.fixture
def stopped_run(text_file, tmp_path):
    out = tmp_path / "run"
    char.main(tiny(text_file), out, stop_at=4, quiet=True)
    return out


def _zip_version_21(data: bytes) -> bytes:
    i = data.index(b"PK\x01\x02")  # central directory: "version needed to extract" at +6
    return data[:i + 6] + (210).to_bytes(2, "little") + data[i + 8:]


@pytest.mark.parametrize("damage,why", [(lambda b: b"", "the file is empty"),
                                        (_zip_version_21, "damaged"),
                                        (lambda b: b"\x80\x04garbage", "damaged")])
def test_damaged_checkpoint_is_one_line_exit_1(stopped_run, text_file, capsys, damage, why):
    """Items 3-4: an empty, a zip-version-21 and a pickle-looking checkpoint: one line naming
    the file and what to use, never numpy's allow_pickle advice, status 1 (was a traceback)."""
    latest = ckpt_path(stopped_run, "latest")
    latest.write_bytes(damage(latest.read_bytes()))
    for argv in (cli_args(text_file, stopped_run) + ["--resume"],
                 ["sample", "--run", str(stopped_run), "--checkpoint", "latest"]):
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
        assert "not a readable jaxrnn checkpoint" in err and str(latest) in err and why in err
        assert "allow_pickle" not in err and "best.ckpt" in err and "Traceback" not in err


def test_unstarted_run_directory_can_be_restarted(text_file, tmp_path):
    """Item 8: config.json but no checkpoint (interrupted at start-up) starts again (was: 2)."""
    out = tmp_path / "r"
    out.mkdir()
    (out / "config.json").write_text("{}")
    assert cli.main(cli_args(text_file, out)) == 0
    assert json.loads((out / "summary.json").read_text())["status"] == "completed"


def test_first_chunk_divergence_names_the_real_first_loss(text_file, tmp_path, capsys):
    """Item 10: the first loss printed is the step-0 loss (about ln V for this near-uniform
    init), not the bad loss; the advice is a new run, not a --resume that would be refused.
    Item 14: the summary is strict JSON."""
    assert cli.main(cli_args(text_file, tmp_path / "r", learning_rate=1e4)) == 1
    err = capsys.readouterr().err
    first = float(err.split("first loss ")[1].split(",")[0])
    vocab = len(json.loads((tmp_path / "r" / "vocab.json").read_text())["chars"])
    assert abs(first - math.log(vocab)) < 0.05
    assert "--learning_rate=1000" in err and "another --out" in err and "or --resume" not in err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text(),
                         parse_constant=lambda c: pytest.fail(f"bare {c} in summary.json"))
    assert summary["status"] == "diverged"
    assert summary["first_loss"] == pytest.approx(first, abs=5e-4)  # printed to 4 digits


@pytest.mark.parametrize("lr", ["0", "-0.1"])
def test_char_refuses_a_learning_rate_not_above_zero(text_file, tmp_path, capsys, lr):
    """Item 11: as sine does (one Config base rule), before any directory is made."""
    assert cli.main(cli_args(text_file, tmp_path / "r", learning_rate=lr)) == 2
    assert "learning_rate must be > 0" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_resuming_a_finished_run_keeps_its_compilation_count(text_file, tmp_path):
    """Item 14: a resume that trains nothing does not rewrite train_step_compilations as 0."""
    out = tmp_path / "r"
    assert cli.main(cli_args(text_file, out)) == 0
    before = json.loads((out / "summary.json").read_text())["train_step_compilations"]
    char._jitted.cache_clear()  # a new process: no compilation yet
    assert cli.main(cli_args(text_file, out) + ["--resume"]) == 0
    assert json.loads((out / "summary.json").read_text())["train_step_compilations"] == before
    assert before >= 1


def test_paths_name_themselves(text_file, tmp_path, capsys):
    """Item 13: --text naming a directory, sample --run on a missing path, --out naming a file,
    a garbage config.json."""
    assert cli.main(cli_args(text_file, tmp_path / "a") + [f"--text={tmp_path}"]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert cli.main(["sample", "--run", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert cli.main(cli_args(text_file, tmp_path / "file")) == 2
    assert "is a file, not a directory" in capsys.readouterr().err
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_bytes(b"\x00garbage")
    (run / "vocab.json").write_text('{"chars": "ab"}')
    assert cli.main(["sample", "--run", str(run)]) == 2
    assert str(run / "config.json") in capsys.readouterr().err


def test_ctrl_c_at_start_up_exits_130_even_if_the_caller_ignored_sigint(text_file, tmp_path,
                                                                        monkeypatch, capsys):
    """The command sets its own SIGINT handler at entry (a caller that ignores SIGINT, as one
    earlier test process did, must not turn Ctrl-C into a finished run), and restores it."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _signal_once(monkeypatch, char, "make_run", signal.SIGINT)
        assert cli.main(cli_args(text_file, tmp_path / "r")) == 130
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    assert "interrupted" in capsys.readouterr().err
