"""The progress bar: log lines never run into it; its rate is over training seconds; and the
"compiling…" message with its time."""
import io
import json

from char_common import cli_args, write_text
from jaxrnn.cli import main as cli
from jaxrnn.io import runs
from jaxrnn.io.progress import Progress, compiling
from jaxrnn.tasks.char import main as char


def test_a_line_written_during_the_bar_clears_it_and_redraws_it(capsys):
    err = io.StringIO()
    with Progress(10, unit="step", stream=err, force=True, fps=1e9) as bar:
        bar.update(3, loss=3.986)
        bar.write("step 200 (epoch 1.00): val 2.1")
    drawn = err.getvalue()
    assert capsys.readouterr().out == "step 200 (epoch 1.00): val 2.1\n"
    first, cleared = drawn.split("\r\033[K")  # the bar, then the clear before the line
    assert "loss=3.986" in first and cleared.startswith("[")  # redrawn after the line
    assert cleared.endswith("\n")


def test_rate_is_over_the_training_seconds_given():
    bar = Progress(100, rate_unit="char", stream=io.StringIO())
    bar.update(50, rate_count=5000, rate_seconds=2.0)
    assert " 2,500 char/s" in bar.line(bar.start + 100.0, {})  # not 5000 / 100 s of wall


def test_compiling_says_so_and_times_it():
    err = io.StringIO()
    with compiling("the step", stream=err) as timing:
        pass
    assert err.getvalue().startswith("compiling the step… done in ")
    assert err.getvalue().endswith(" s\n") and timing["seconds"] >= 0.0


def test_char_steps_sets_the_length_and_adapts_the_intervals(tmp_path, capsys):
    cfg, changes = char.for_steps(char.Config(log_every=100, eval_every=1000), 250, k=40)
    assert (cfg.epochs, cfg.log_every, cfg.eval_every) == (7, 50, 250)
    assert changes == ["epochs 50 -> 7", "log_every 100 -> 50", "eval_every 1000 -> 250"]
    assert char.for_steps(char.Config(log_every=4, eval_every=8), 12, k=10)[0].eval_every == 4
    out = tmp_path / "r"
    args = [a for a in cli_args(write_text(tmp_path), out) if a != "--quiet"]
    assert cli.main(args + ["--steps", "6"]) == 0  # tiny: log_every 4, eval_every 8
    err = capsys.readouterr().err
    assert "--steps 6: epochs 2 -> 1, log_every 4 -> 3, eval_every 8 -> 6" in err
    assert "compiling the training step… done in" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 6
    rows = runs.read_csv(out / "metrics.csv")
    assert [r["step"] for r in rows] == [3.0, 6.0] and rows[-1]["val_loss"] != ""
    rate = summary["chars_trained"] / summary["train_s"]
    assert summary["chars_per_s"] == round(rate)  # training seconds only, as the rows
    assert summary["train_s"] < summary["train_wall_s"]
