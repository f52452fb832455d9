"""Where a run came from, for its ``config.json``: the preset, the overrides, the command line,
the git commit of the jaxrnn checkout (when it runs from one), XLA_FLAGS; and a run's label.

``record(preset, overrides, argv)`` is built by the ``jaxrnn`` command (or by a report that
calls a task directly) and passed to the task's ``main(..., origin=...)``; ``run_dir`` writes it
beside the config. The device count is in ``runs.versions()``.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]  # the folder above jaxrnn/ (a checkout, or site-packages)
ENV_VARS = ("XLA_FLAGS", "JAX_PLATFORMS", "JAX_ENABLE_X64")


def git_commit(root: Path = CHECKOUT) -> dict | None:
    """``{"commit", "dirty"}`` of the git checkout at ``root``, or None (installed package, no
    git, not a checkout). ``dirty``: tracked files differ from the commit."""
    if not (root / ".git").exists():
        return None
    try:
        run = dict(cwd=root, capture_output=True, text=True, timeout=10, check=True)
        head = subprocess.run(["git", "rev-parse", "HEAD"], **run).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               **run).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "dirty": bool(dirty)}


def record(preset: str | None, overrides: dict | None = None, argv: list | None = None) -> dict:
    """The origin of a run: preset, overrides (as given), argv (default: the process's, e.g.
    ``jaxrnn reproduce`` for the runs a report starts), git, environment."""
    return {"preset": preset, "overrides": dict(overrides or {}),
            "argv": list(sys.argv if argv is None else argv), "git": git_commit(),
            "environment": {k: os.environ.get(k) for k in ENV_VARS}}


def label(origin: dict | None, fallback: str) -> str:
    """A run's title: ``"vlasov"``, ``"vlasov (epochs=500, learning_rate=0.01)"``, or
    ``fallback`` when the origin names no preset."""
    if not origin or not origin.get("preset"):
        return fallback
    changes = ", ".join(f"{k}={v}" for k, v in origin.get("overrides", {}).items())
    return f"{origin['preset']} ({changes})" if changes else origin["preset"]
