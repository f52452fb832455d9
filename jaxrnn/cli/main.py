"""The ``jaxrnn`` command.

Each subcommand lives in its own module, listed in ``COMMANDS``. A *task* module (``Config``,
``PRESETS``, ``main(cfg, out)``) gets ``--preset``, ``--out``, ``--list-presets`` and
``--field=value`` overrides for free; any other module provides ``add_arguments(parser)`` and
``run(args) -> int``. Bad input (unknown option, preset or field, wrong type) exits with status 2
and one line naming the problem; set ``JAXRNN_DEBUG=1`` for the traceback.

Compiled programs are kept in XLA's persistent cache (``$JAXRNN_CACHE_DIR``, default
``~/.cache/jaxrnn/xla``), so a second run of the same program skips most of its compile time;
``JAXRNN_CACHE_DIR=off`` disables it. At start the command also makes glibc's malloc keep the
memory it frees (``jaxrnn.io.malloc``; ``JAXRNN_MALLOC=default`` opts out).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

from jaxrnn.io.config import from_preset, parse_overrides, to_dict
from jaxrnn.io.malloc import keep_freed_memory

COMMANDS = {
    "demo": ("jaxrnn.tasks.demo", "train a small RNN on a sine wave (seconds)"),
    "sine": ("jaxrnn.tasks.sine.main", "sine-wave experiments: seed presets, variants, forecasts"),
    "char": ("jaxrnn.tasks.char.main", "character-level language models"),
    "sample": ("jaxrnn.cli.sample", "sample text from a trained character model"),
    "gradcheck": ("jaxrnn.cli.gradcheck", "cross-validate gradients by every method"),
    "sweep": ("jaxrnn.cli.sweep", "vmapped ablation sweeps"),
    "reproduce": ("jaxrnn.cli.reproduce", "rerun every seed preset and study; write a report"),
}


def _available():
    return {name: spec for name, spec in COMMANDS.items()
            if importlib.util.find_spec(spec[0]) is not None}


def _is_task(module) -> bool:
    return all(hasattr(module, a) for a in ("Config", "PRESETS", "main"))


def _task_parser(sub, name, module, help_):
    default = next(iter(module.PRESETS))
    p = sub.add_parser(name, help=help_, description=(module.__doc__ or "").split("\n")[0],
                       epilog="Any config field can be overridden as --field=value "
                              "(see --list-presets for the fields).")
    p.add_argument("--preset", default=default, help=f"one of {', '.join(module.PRESETS)} "
                                                     f"(default {default})")
    p.add_argument("--out", default=None, help="run directory (default runs/<command>-<preset>)")
    p.add_argument("--list-presets", action="store_true", help="print presets and exit")
    if hasattr(module, "add_arguments"):
        module.add_arguments(p)
    return p


def _run_task(name, module, args, extra) -> int:
    if args.list_presets:
        for preset, cfg in module.PRESETS.items():
            print(f"{preset}: {to_dict(cfg)}")
        return 0
    cfg = from_preset(module.PRESETS, args.preset, parse_overrides(extra))
    out = args.out or os.path.join("runs", f"{name}-{args.preset}")
    flags = {k: v for k, v in vars(args).items()
             if k not in ("command", "preset", "out", "list_presets")}
    module.main(cfg, out, **flags)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="jaxrnn", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = {}
    for name, (path, help_) in _available().items():
        module = importlib.import_module(path)
        modules[name] = module
        if _is_task(module):
            _task_parser(sub, name, module, help_)
        else:
            module.add_arguments(sub.add_parser(name, help=help_, description=help_))
    return parser, modules


def enable_compilation_cache() -> None:
    """Turns on XLA's persistent compilation cache (see the module docstring)."""
    path = os.environ.get("JAXRNN_CACHE_DIR", os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "jaxrnn", "xla"))
    if path.lower() == "off":
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


def main(argv=None) -> int:
    parser, modules = build_parser()
    enable_compilation_cache()
    keep_freed_memory()
    args, extra = parser.parse_known_args(argv)
    module = modules[args.command]
    try:
        if _is_task(module):
            return _run_task(args.command, module, args, extra)
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return module.run(args)
    except (ValueError, TypeError, FileExistsError, FileNotFoundError) as e:
        if os.environ.get("JAXRNN_DEBUG"):
            raise
        print(f"jaxrnn {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
