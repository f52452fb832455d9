"""How a run fails: errors a user can fix, and signals that stop a run between steps.

The ``jaxrnn`` command turns these into exit statuses (``jaxrnn.cli.main``):

- ``RunError`` (a diverged run, an unreadable checkpoint) and an ``OSError`` a user can fix
  (``os_error_line``: permission denied, read-only file system, disk full): one line naming the
  file and the fix, status 1;
- ``Interrupted`` (SIGINT or SIGTERM): status 128 + the signal number (130, 143), after the run
  finished its step and saved;
- anything else keeps its traceback.

``deferred_signals()`` turns SIGINT and SIGTERM into a *stop request* while a training loop runs:
the loop finishes the step (and its evaluation and checkpoint) before it stops, so an interrupt
never leaves a metrics row half written. A second signal stops at once.
"""
from __future__ import annotations

import contextlib
import errno
import signal

USER_ERRNOS = {errno.EACCES: "you cannot write there; choose another --out",
               errno.EPERM: "you cannot write there; choose another --out",
               errno.EROFS: "the file system is read-only; choose another --out",
               errno.ENOSPC: "the disk is full; free some space (or choose another --out) and "
                             "run again (--resume continues a char run from its checkpoint)",
               errno.EDQUOT: "your disk quota is used up; free some space and run again"}


class RunError(Exception):
    """A run failed for a reason the user can fix; the command prints it as one line, status 1."""


class DivergenceError(RunError, ValueError):
    """Training diverged (non-finite loss, or above a factor times the first loss)."""


class CheckpointError(RunError, ValueError):
    """A file is not a readable jaxrnn checkpoint."""


class Interrupted(Exception):
    """A run stopped by SIGINT or SIGTERM (after saving); the command exits 128 + ``signum``."""

    def __init__(self, signum: int, message: str = ""):
        self.signum = int(signum)
        super().__init__(message or f"interrupted by {signal.Signals(self.signum).name}")

    @property
    def status(self) -> int:
        return 128 + self.signum


def os_error_line(e: OSError) -> str | None:
    """One line naming the file and the fix for an ``OSError`` a user can fix, else None."""
    fix = USER_ERRNOS.get(e.errno)
    if fix is None:
        return None
    where = f" {e.filename!s}" if e.filename else ""
    return f"cannot write{where}: {e.strerror or e}; {fix}"


def raise_interrupted(signum, frame) -> None:
    """A signal handler: raises ``Interrupted(signum)`` (SIGTERM at start-up)."""
    raise Interrupted(signum)


class StopRequest:
    """The signal that asked a loop to stop (``signum``), or None."""

    signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None


@contextlib.contextmanager
def deferred_signals():
    """Within the block, SIGINT/SIGTERM set ``StopRequest.signum`` instead of stopping the
    program; a second signal raises at once (``KeyboardInterrupt`` or ``Interrupted``). The
    previous handlers come back on exit. Outside the main thread it defers nothing."""
    request = StopRequest()

    def handler(signum, frame):
        if request.signum is not None:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise Interrupted(signum)
        request.signum = signum

    try:
        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: signals cannot be handled here
        previous = {}
    try:
        yield request
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
