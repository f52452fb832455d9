"""``jaxrnn sample``: text from a trained character model's run directory.

    jaxrnn sample --run runs/char-char-rnn --prime "ROMEO:" --temperature 0.8 --length 500

prints the prime followed by ``--length`` sampled characters. The model is rebuilt from the run's
``config.json`` and ``vocab.json`` and its params read from ``checkpoints/best.ckpt`` (or
``--checkpoint latest`` / a path).
"""
from __future__ import annotations

import jax

from jaxrnn.tasks.char.saved import load_model
from jaxrnn.tasks.char.sample import sample_text


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


def run(args) -> int:
    spec, params, vocab, cfg = load_model(args.run, args.checkpoint)
    prime = args.prime if args.prime is not None else (cfg.sample_prime or vocab.chars[0])
    text = sample_text(spec, params, vocab, prime, jax.random.PRNGKey(args.seed),
                       length=args.length, temperature=args.temperature, top_k=args.top_k,
                       argmax=args.argmax)
    print(prime + text)
    return 0
