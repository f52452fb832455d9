"""``jaxrnn eval`` / ``score_file``: the whole file scored with the carried state, checked
against min-char-rnn's numpy forward pass in float64 (tests/char_reference.py)."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from char_common import tiny, write_text
from char_reference import rnn_window
from jaxrnn.cli import main as cli
from jaxrnn.tasks.char import main as char
from jaxrnn.tasks.char.evaluate import score_file
from jaxrnn.tasks.char.saved import load_model

OTHER = "All:\nSpeak, speak! Quick: ZZ.\nFirst Citizen:\nYou are all resolved rather to die"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    out = char.main(tiny(write_text(tmp), epochs=1), tmp / "run", quiet=True)
    other = tmp / "other.txt"
    other.write_text(OTHER, encoding="utf-8")
    return out, other


def _reference(out, text: str, seq_len: int, carry: bool) -> tuple[float, int]:
    """Summed nats by rnn_window over windows of seq_len (carried or from zeros), OOV dropped."""
    _, params, vocab, _ = load_model(out)
    p = {k: np.asarray(v, np.float64) for k, v in {**params["layers"][0],
                                                     **params["readout"]}.items()}
    ids = np.array([vocab.chars.index(c) for c in text if c in vocab.chars])
    h, total = np.zeros((1, p["W_hh"].shape[0])), 0.0
    for a in range(0, len(ids) - 1, seq_len):
        xs, ys = ids[a:a + seq_len], ids[a + 1:a + 1 + seq_len]
        xs = xs[:len(ys)]
        loss, _, h_next = rnn_window(p, xs[:, None], ys[:, None], h if carry else 0 * h)
        total, h = total + loss, h_next
    return total, len(ids) - 1


@pytest.mark.parametrize("carry", [True, False])
def test_score_matches_numpy_over_the_whole_file(trained, carry, tmp_path):
    out, other = trained
    if not carry:  # the run's own rule decides: a copy saved with carry_state=False
        out = Path(shutil.copytree(out, tmp_path / "no-carry"))
        saved = json.loads((out / "config.json").read_text())
        saved["config"]["carry_state"] = False
        (out / "config.json").write_text(json.dumps(saved))
    got = score_file(out, other)
    nats, n = _reference(out, OTHER, 5, carry)
    assert got["predictions"] == n  # every character after the first: no tail dropped
    assert got["oov_chars"] == sum(c not in load_model(out)[2].chars for c in OTHER) > 0
    # float32 model against float64: 1e-5 relative is float32 rounding over ~70 steps
    assert got["nats_per_char"] == pytest.approx(nats / n, rel=1e-5)
    assert got["bits_per_char"] == pytest.approx(nats / n / np.log(2), rel=1e-5)
    other_rule = _reference(out, OTHER, 5, not carry)[0] / n
    assert abs(other_rule - nats / n) > 1e-3  # the two rules are told apart


def test_cli_prints_one_json_line(trained, capsys):
    out, other = trained
    assert cli.main(["eval", "--run", str(out), "--text", str(other)]) == 0
    captured = capsys.readouterr()
    line = json.loads(captured.out.strip())
    assert line["oov_rule"] == "skipped" and "nats/char" in captured.err
    assert line == score_file(out, other)
    assert cli.main(["eval", "--run", str(out), "--text", str(out / "nope.txt")]) == 2
