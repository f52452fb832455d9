"""Shared by the character-model tests: one tiny text and one tiny config, so that tests in
one session reuse the same compiled train step (``tasks.char.jitted`` caches by config)."""
from jaxrnn.io.config import override
from jaxrnn.tasks.char import main as char

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n") * 3

BASE = dict(cell="rnn", hidden=8, layers=1, seq_len=5, batch=2, epochs=2, val_fraction=0.2,
            input_init="randn001", recurrent_init="identity001", readout_init="randn001",
            bias_init="zeros", optimizer="adagrad", learning_rate=0.1, lr_decay=1.0,
            log_every=4, eval_every=8, sample_length=16, seed=3)


def tiny(text_file="", **changes):
    """The tiny config (a min-char-like RNN) on ``text_file``."""
    return override(char.Config(), {**BASE, "text": str(text_file), **changes})


def cli_args(text_file, out, **changes):
    """``jaxrnn char`` arguments that build exactly ``tiny(text_file, **changes)``."""
    fields = {**BASE, "text": str(text_file), **changes}
    return (["char", "--preset", "char-rnn", "--out", str(out), "--quiet"]
            + [f"--{k}={v}" for k, v in fields.items()])


def write_text(tmp_path, text=TEXT):
    path = tmp_path / "tiny.txt"
    path.write_text(text, encoding="utf-8")
    return path
