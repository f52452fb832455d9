"""Redraws the character-model figures of experiments/char.md from saved metrics.

    python experiments/char_figures.py [RESULTS_DIR]

RESULTS_DIR (default experiments/char_results) holds one folder per reported run with its
metrics.csv and config.json (copied from the run directories under runs/char/). Writes
<run>/loss.png for each run and val_vs_time.png comparing the two 10-minute runs.
"""
import json
import sys
from pathlib import Path

from jaxrnn.io import runs
from jaxrnn.plots import char as plots_char
from jaxrnn.plots import common as plotting


def main(results: Path) -> None:
    for run in sorted(p for p in results.iterdir() if (p / "metrics.csv").is_file()):
        cfg = json.loads((run / "config.json").read_text())["config"]
        seq_len = cfg.get("seq_len", cfg.get("window"))  # saved runs predate the rename
        title = (f"{run.name}: {cfg['layers']}x{cfg['cell'].upper()} {cfg['hidden']}, "
                 f"T={seq_len}, B={cfg['batch']}, {cfg['optimizer']} "
                 f"{cfg['learning_rate']:g}")
        plotting.save(plots_char.loss_curves(runs.read_csv(run / "metrics.csv"), title=title),
                      run / "loss.png")
    timed = {name: runs.read_csv(results / name / "metrics.csv")
             for name in ("shakespeare-gru", "char-rnn-10min")
             if (results / name / "metrics.csv").is_file()}
    if timed:
        plotting.save(plots_char.val_against_time(
            timed, target=1.60, title="tiny-shakespeare validation loss, 2 shared CPU cores"),
            results / "val_vs_time.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "char_results")
