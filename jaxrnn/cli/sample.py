"""``jaxrnn sample``: text from a trained character model's run directory.

    jaxrnn sample --run runs/char-char-rnn --prime "ROMEO:" --temperature 0.8 --length 500

prints the prime followed by ``--length`` sampled characters. The model is rebuilt from the run's
``config.json`` and ``vocab.json`` and its params read from ``checkpoints/best.ckpt`` (or
``--checkpoint latest`` / a path).
"""
from __future__ import annotations

from pathlib import Path

import jax

from jaxrnn.io import checkpoint, runs
from jaxrnn.tasks.char.model import init_params
from jaxrnn.io.config import override, upgrade_saved
from jaxrnn.data.text import Vocab
from jaxrnn.tasks.char.sample import sample_text
from jaxrnn.tasks.char import main as char


def add_arguments(parser) -> None:
    parser.add_argument("--run", required=True, help="run directory of `jaxrnn char`")
    parser.add_argument("--prime", default=None,
                        help="text to start from (default: the run's sample_prime or the "
                             "first character of its text)")
    parser.add_argument("--length", type=int, default=200, help="characters to generate")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="softmax temperature > 0 (lower: more conservative)")
    parser.add_argument("--top-k", type=int, default=0,
                        help="draw only among the k most likely characters (0: all)")
    parser.add_argument("--argmax", action="store_true", help="greedy: the most likely character")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed")
    parser.add_argument("--checkpoint", default="best",
                        help="best, latest, or a checkpoint file (default best)")


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


def run(args) -> int:
    spec, params, vocab, cfg = load_model(args.run, args.checkpoint)
    prime = args.prime if args.prime is not None else (cfg.sample_prime or vocab.chars[0])
    text = sample_text(spec, params, vocab, prime, jax.random.PRNGKey(args.seed),
                       length=args.length, temperature=args.temperature, top_k=args.top_k,
                       argmax=args.argmax)
    print(prime + text)
    return 0
