"""The jaxrnn command.

Each subcommand lives in its own module, named in ``COMMANDS`` (name -> (module path, help))
and imported only when that subcommand runs, so ``jaxrnn --help`` does not import jax; a module
that fails to import fails its command, it is never hidden. A *task* module (``Config``,
``PRESETS``, ``main(cfg, out, origin=...)``) gets ``--preset``, ``--out``, ``--list-presets``,
``--help-fields`` and ``--field=value`` overrides for free; any other module provides
``add_arguments(parser)`` and ``run(args) -> int``.

Exit statuses: 0 done; 2 bad usage (unknown option, preset or field, wrong type or range, a
missing or existing path, input a check of jaxrnn's refuses), one line naming the problem; 1 a
failed run (divergence, an unreadable checkpoint, permission denied, a full disk:
``jaxrnn.io.failures``), one line naming the file and the fix; 130 (SIGINT, Ctrl-C) and 143
(SIGTERM) after the run finished its step and saved. Anything else is a bug and keeps its
traceback (Python's exit status 1): so does a ``ValueError``/``TypeError`` raised inside jax or
another library (a tracer error, a shape bug) rather than by one of jaxrnn's own input checks.
Set ``JAXRNN_DEBUG=1`` for the traceback of the one-line errors too.

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
import importlib
import os
import signal
import sys
from pathlib import Path

from jaxrnn import __version__
from jaxrnn.io import failures

COMMANDS = {
    "demo": ("jaxrnn.tasks.demo", "train a small RNN on a sine wave (seconds)"),
    "sine": ("jaxrnn.tasks.sine.main", "sine-wave experiments: seed presets, variants, forecasts"),
    "char": ("jaxrnn.tasks.char.main", "character-level language models"),
    "online": ("jaxrnn.tasks.online", "online training with a gradient estimator (RTRL, UORO, "
               "SnAp, ...)"),
    "sample": ("jaxrnn.cli.sample", "sample text from a trained character model"),
    "eval": ("jaxrnn.cli.evaluate", "score a trained character model on a text file"),
    "gradcheck": ("jaxrnn.cli.gradcheck", "cross-validate gradients by every method"),
    "sweep": ("jaxrnn.cli.sweep", "vmapped ablation sweeps"),
    "reproduce": ("jaxrnn.cli.reproduce", "rerun every seed preset and study; write a report"),
}
DESCRIPTION = "jaxrnn: recurrent neural networks from scratch in JAX."
EPILOG = ("Run 'jaxrnn COMMAND --help' for a command's options; a task (demo, sine, char) also "
          "takes --help-fields and --list-presets. Exit status: 0 done, 1 the run failed, "
          "2 bad usage, 130/143 interrupted (after saving).")


def _module(name: str):
    """The module of subcommand ``name`` (imported now); a module object is accepted as is."""
    entry = COMMANDS[name][0]
    return importlib.import_module(entry) if isinstance(entry, str) else entry


def _is_task(module) -> bool:
    return all(hasattr(module, a) for a in ("Config", "PRESETS", "main"))


def _task_parser(p, module) -> None:
    default = next(iter(module.PRESETS))
    p.description = (module.__doc__ or "").split("\n")[0].replace("``", "")
    p.epilog = ("Every config field can be overridden as --field=value: --help-fields lists "
                "them with types, defaults and allowed values; --list-presets shows what each "
                "preset changes.")
    p.add_argument("--preset", default=default, help=f"one of {', '.join(module.PRESETS)} "
                                                     f"(default {default})")
    p.add_argument("--out", default=None, help="run directory (default runs/<command>-<preset>)")
    p.add_argument("--list-presets", action="store_true",
                   help="print a table of the presets (the fields each changes) and exit")
    p.add_argument("--help-fields", action="store_true",
                   help="print every config field (type, default, allowed values) and exit")
    if hasattr(module, "add_arguments"):
        module.add_arguments(p)


def _command_of(argv: list) -> str | None:
    """The subcommand named in ``argv`` (its first word that is not an option), if any."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in COMMANDS else None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported and given its options."""
    parser = argparse.ArgumentParser(prog="jaxrnn", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version",
                        version=f"jaxrnn {__version__} (Python {sys.version.split()[0]})")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if name == command:
            module = _module(name)
            _task_parser(p, module) if _is_task(module) else module.add_arguments(p)
    return parser


def _run_task(name, module, args, extra, argv) -> int:
    from jaxrnn.cli import fields
    from jaxrnn.io import provenance, settings
    from jaxrnn.io.config import from_preset, parse_overrides

    if args.list_presets or args.help_fields:
        print(fields.format_presets(module.PRESETS, module.Config) if args.list_presets
              else fields.format_fields(module.Config))
        return 0
    overrides = parse_overrides(extra)
    cfg = from_preset(module.PRESETS, args.preset, overrides)
    out = args.out or os.path.join("runs", f"{name}-{args.preset}")
    flags = {k: v for k, v in vars(args).items()
             if k not in ("command", "preset", "out", "list_presets", "help_fields")}
    settings.enable_dtype(getattr(cfg, "dtype", "float32"))
    origin = provenance.record(args.preset, overrides, ["jaxrnn", *argv])
    module.main(cfg, out, origin=origin, **flags)
    return 0


def main(argv=None) -> int:
    """Runs ``jaxrnn COMMAND ...``; returns the exit status (module docstring)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command_of(argv)
    parser = build_parser(command)
    args, extra = parser.parse_known_args(argv)
    from jaxrnn.io import settings
    from jaxrnn.io.malloc import keep_freed_memory

    settings.enable_compilation_cache()
    keep_freed_memory()
    # Ctrl-C raises KeyboardInterrupt and SIGTERM Interrupted (both exit with one line), whatever
    # handlers the calling process had installed; the training loops defer both per step.
    previous = {signal.SIGINT: _on_signal(signal.SIGINT, signal.default_int_handler),
                signal.SIGTERM: _on_signal(signal.SIGTERM, failures.raise_interrupted)}
    try:
        return _dispatch(parser, args, extra, argv)
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


USAGE_ERRORS = (ValueError, TypeError, FileExistsError, FileNotFoundError, IsADirectoryError,
                NotADirectoryError)


def _dispatch(parser, args, extra, argv) -> int:
    module = _module(args.command)
    try:
        if _is_task(module):
            return _run_task(args.command, module, args, extra, argv)
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return module.run(args)
    except failures.Interrupted as e:
        return _fail(args, e, e.status)
    except KeyboardInterrupt:
        return _fail(args, "interrupted (Ctrl-C)", 130)
    except failures.RunError as e:
        return _fail(args, e, 1)
    except USAGE_ERRORS as e:
        if not raised_by_jaxrnn(e):
            raise  # a bug (or a library's error we did not foresee): keep the traceback
        return _fail(args, e, 2)
    except OSError as e:
        line = failures.os_error_line(e)
        if line is None:
            raise
        return _fail(args, line, 1)


PACKAGE = Path(__file__).resolve().parents[1]


def raised_by_jaxrnn(e: BaseException) -> bool:
    """True when ``e`` was raised by jaxrnn's own code (an input check), not inside jax,
    numpy or another library: the innermost traceback frame lies in the package. An
    ``OSError`` about a path (it carries a filename) counts as an input problem wherever it
    was raised. A jax error class (a tracer error), or an exception that passed through a
    jitted function (JAX then removes its own frames, so the innermost frame left may be
    jaxrnn's and proves nothing; it says so in a note), is never an input check."""
    if isinstance(e, OSError) and e.filename is not None:
        return True
    if type(e).__module__.split(".")[0] in ("jax", "jaxlib") or any(
            "JAX has removed its internal frames" in note
            for note in getattr(e, "__notes__", ())):
        return False
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and PACKAGE in Path(tb.tb_frame.f_code.co_filename).resolve().parents


def _fail(args, message, status: int) -> int:
    if os.environ.get("JAXRNN_DEBUG") and status in (1, 2):
        raise
    print(f"jaxrnn {args.command}: {'error: ' * (status in (1, 2))}{message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
