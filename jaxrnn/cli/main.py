"""The ``jaxrnn`` command.

Each subcommand lives in its own module, imported and listed in ``COMMANDS`` (name ->
(module, help)); a module that fails to import fails the command, it is never hidden. A *task*
module (``Config``, ``PRESETS``, ``main(cfg, out)``) gets ``--preset``, ``--out``,
``--list-presets`` and ``--field=value`` overrides for free; any other module provides
``add_arguments(parser)`` and ``run(args) -> int``.

Exit statuses: 0 done; 2 bad input (unknown option, preset or field, wrong type, a missing or
existing path), one line naming the problem; 1 a failed run (divergence, an unreadable
checkpoint, permission denied, a full disk: ``jaxrnn.io.failures``), one line naming the file
and the fix; 130 (SIGINT, Ctrl-C) and 143 (SIGTERM) after the run finished its step and saved;
an unexpected exception keeps its traceback. Set ``JAXRNN_DEBUG=1`` for the traceback of the
one-line errors too.

Process-wide settings are switched here, at the command's entry, never inside a library call
(``jaxrnn.io.settings``): compiled programs are kept in XLA's persistent cache
(``$JAXRNN_CACHE_DIR``, default ``~/.cache/jaxrnn/xla``; ``JAXRNN_CACHE_DIR=off`` disables
it), so a second run of the same program skips most of its compile time; a task config with
``dtype=float64`` turns on ``jax_enable_x64`` before the task's ``main`` runs (``jaxrnn sweep``
and ``jaxrnn gradcheck`` do the same for their runs). At start the command also makes glibc's
malloc keep the memory it frees (``jaxrnn.io.malloc``; ``JAXRNN_MALLOC=default`` opts out).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

from jaxrnn.cli import gradcheck, reproduce, sample, sweep
from jaxrnn.io import failures, settings
from jaxrnn.io.config import from_preset, parse_overrides, to_dict
from jaxrnn.io.malloc import keep_freed_memory
from jaxrnn.tasks import demo, online
from jaxrnn.tasks.char import main as char
from jaxrnn.tasks.sine import main as sine

COMMANDS = {
    "demo": (demo, "train a small RNN on a sine wave (seconds)"),
    "sine": (sine, "sine-wave experiments: seed presets, variants, forecasts"),
    "char": (char, "character-level language models"),
    "online": (online, "online training with a gradient estimator (RTRL, UORO, SnAp, ...)"),
    "sample": (sample, "sample text from a trained character model"),
    "gradcheck": (gradcheck, "cross-validate gradients by every method"),
    "sweep": (sweep, "vmapped ablation sweeps"),
    "reproduce": (reproduce, "rerun every seed preset and study; write a report"),
}


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
    settings.enable_dtype(getattr(cfg, "dtype", "float32"))
    module.main(cfg, out, **flags)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The parser: one subcommand per entry of ``COMMANDS``."""
    parser = argparse.ArgumentParser(prog="jaxrnn", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        if _is_task(module):
            _task_parser(sub, name, module, help_)
        else:
            module.add_arguments(sub.add_parser(name, help=help_, description=help_))
    return parser


def main(argv=None) -> int:
    """Runs ``jaxrnn COMMAND ...``; returns the exit status (module docstring)."""
    parser = build_parser()
    settings.enable_compilation_cache()
    keep_freed_memory()
    args, extra = parser.parse_known_args(argv)
    # Ctrl-C raises KeyboardInterrupt and SIGTERM Interrupted (both exit with one line), whatever
    # handlers the calling process had installed; the training loops defer both per step.
    previous = {signal.SIGINT: _on_signal(signal.SIGINT, signal.default_int_handler),
                signal.SIGTERM: _on_signal(signal.SIGTERM, failures.raise_interrupted)}
    try:
        return _dispatch(parser, args, extra)
    finally:
        for signum, handler in previous.items():
            if handler is not None:
                _on_signal(signum, handler)


def _on_signal(signum, handler):
    """Installs ``handler`` for ``signum`` (main thread only); returns the previous one."""
    try:
        return signal.signal(signum, handler)
    except ValueError:  # not the main thread
        return None


def _dispatch(parser, args, extra) -> int:
    module = COMMANDS[args.command][0]
    try:
        if _is_task(module):
            return _run_task(args.command, module, args, extra)
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return module.run(args)
    except failures.Interrupted as e:
        return _fail(args, e, e.status)
    except KeyboardInterrupt:
        return _fail(args, "interrupted (Ctrl-C)", 130)
    except failures.RunError as e:
        return _fail(args, e, 1)
    except (ValueError, TypeError, FileExistsError, FileNotFoundError, IsADirectoryError,
            NotADirectoryError) as e:
        return _fail(args, e, 2)
    except OSError as e:
        line = failures.os_error_line(e)
        if line is None:
            raise
        return _fail(args, line, 1)


def _fail(args, message, status: int) -> int:
    if os.environ.get("JAXRNN_DEBUG") and status in (1, 2):
        raise
    print(f"jaxrnn {args.command}: {'error: ' * (status in (1, 2))}{message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
