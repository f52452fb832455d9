"""``jaxrnn eval``: score a trained character model on a text file.

    jaxrnn eval --run runs/char-shakespeare-gru --text other.txt

prints one JSON line on stdout (for scripts): ``nats_per_char``, ``bits_per_char``,
``predictions``, ``chars``, ``oov_chars`` (characters outside the run's vocabulary, skipped:
``jaxrnn.tasks.char.evaluate``), ``oov_distinct``, the run, the text and the checkpoint; a
readable line goes to stderr. Same as a function: ``jaxrnn.tasks.char.evaluate.score_file``.
"""
from __future__ import annotations

import json
import sys

from jaxrnn.tasks.char.evaluate import score_file


def add_arguments(parser) -> None:
    parser.add_argument("--run", required=True, help="run directory of `jaxrnn char`")
    parser.add_argument("--text", required=True, help="UTF-8 text file to score (all of it)")
    parser.add_argument("--checkpoint", default="best",
                        help="best, latest, or a checkpoint file (default best)")


def run(args) -> int:
    scores = score_file(args.run, args.text, checkpoint=args.checkpoint)
    skipped = (f"; {scores['oov_chars']} character(s) outside the vocabulary skipped "
               f"({scores['oov_distinct']!r})" if scores["oov_chars"] else "")
    print(f"eval: {scores['nats_per_char']:.4f} nats/char ({scores['bits_per_char']:.4f} "
          f"bits/char) over {scores['predictions']:,} predictions of {args.text}{skipped}",
          file=sys.stderr)
    print(json.dumps(scores))
    return 0
