"""A trained character model read back from its run directory (``jaxrnn char``'s ``--out``):
its config, vocabulary and the params of a checkpoint. Used by ``jaxrnn sample`` and
``jaxrnn eval``."""
from __future__ import annotations

from pathlib import Path

import jax

from jaxrnn.data.text import Vocab
from jaxrnn.io import checkpoint, runs
from jaxrnn.io.config import override, upgrade_saved
from jaxrnn.tasks.char import main as char
from jaxrnn.tasks.char.model import init_params


def load_model(run_dir, which: str = "best"):
    """``(spec, params, vocab, cfg)`` of a run directory's checkpoint ``which``."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise FileNotFoundError(f"--run {str(run_dir)!r} does not exist; give the --out "
                                f"directory of a `jaxrnn char` run")
    if not (run_dir / "config.json").is_file() or not (run_dir / "vocab.json").is_file():
        raise FileNotFoundError(f"{str(run_dir)!r} is not a `jaxrnn char` run directory (no "
                                f"config.json / vocab.json)")
    base = char.Config()  # a run saved before a field rename is read in today's names
    cfg = override(base, upgrade_saved(base, _field(run_dir / "config.json", "config")))
    vocab = Vocab(_field(run_dir / "vocab.json", "chars"))
    path = Path(which) if which not in ("best", "latest") else (
        run_dir / "checkpoints" / f"{which}.ckpt")
    if which == "best" and not path.is_file():
        path = run_dir / "checkpoints" / "latest.ckpt"  # no validation yet
    arrays, meta = checkpoint.load(path)
    checkpoint.check_meta(meta, {"vocab": vocab.chars}, source=f"checkpoint {str(path)!r}")
    spec = char.model_spec(cfg, vocab.size)
    params = checkpoint.restore(init_params(jax.random.PRNGKey(0), spec), arrays,
                                prefix="state/params", source=f"checkpoint {str(path)!r}")
    return spec, params, vocab, cfg


def _field(path: Path, key: str):
    """``path``'s JSON entry ``key``; a ValueError naming the file if it is damaged."""
    saved = runs.read_json(path, "jaxrnn run file")
    if not isinstance(saved, dict) or key not in saved:
        raise ValueError(f"{str(path)!r} has no {key!r} entry; it is not a `jaxrnn char` run "
                         f"file (restore it or train the run again)")
    return saved[key]
