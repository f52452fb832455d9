"""Run directories: config, metrics and summaries written so figures can be redrawn later.

A sweep directory keeps each finished program's outputs in ``programs/`` (``program_file``,
``program_files``; sweeps written before the rename called the folder ``cells/``, still read).

Every file is written atomically (a temporary file in the same directory, then ``os.replace``),
so a crash mid-write leaves the previous version intact; it gets the mode any new file gets
(0666 less the umask, e.g. 0644), so a group can read runs on a shared cluster.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import tempfile
from pathlib import Path

from jaxrnn.io import provenance
from jaxrnn.io.config import config_hash, to_dict


def is_writer() -> bool:
    """True on the one process that writes files: process 0 of a multi-process
    (``jax.distributed``) run, and always in a single process."""
    import jax

    return jax.process_index() == 0


def atomic_write_bytes(path, data: bytes) -> None:
    """Writes ``data`` to ``path`` via a temporary file and a rename (only on the writer,
    ``is_writer``: the other processes of a multi-host run write nothing)."""
    if not is_writer():
        return
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        _raise_naming(e, path)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 -> what open() would have made
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError):
            _raise_naming(e, path)
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it; it is put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _raise_naming(e: OSError, path: Path):
    """Raises the same kind of error naming ``path`` (the file the user asked for, not a
    temporary file), unless it has no errno or already names a folder on the way to it."""
    if e.errno is None or (e.filename and str(path).startswith(str(e.filename))):
        raise e
    raise type(e)(e.errno, e.strerror, str(path)) from e


def write_json(path, obj) -> None:
    """Atomic JSON write, indented, keys in insertion order; NaN and infinities are written as
    ``null`` (valid JSON; the file's ``status`` says why a value is missing)."""
    text = json.dumps(_finite(obj), indent=2, default=_jsonable, allow_nan=False)
    atomic_write_bytes(path, (text + "\n").encode())


def _finite(x):
    """``x`` with every non-finite float (also inside arrays, lists, dicts) replaced by None."""
    if hasattr(x, "tolist") and not isinstance(x, (str, bytes)):
        x = x.tolist()
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def _jsonable(x):
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def read_json(path, what: str = "file") -> dict:
    """The JSON object in ``path``; a ValueError naming the file if it is not valid JSON."""
    try:
        return json.loads(Path(path).read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{str(path)!r} is not a valid {what} (not UTF-8 JSON: {e}); restore "
                         f"it or start the run again") from None


def write_csv(path, rows: list[dict]) -> None:
    """Atomic CSV write of a list of same-keyed dicts (a header from the first row)."""
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode())


def read_csv(path) -> list[dict]:
    """Rows of a CSV written by ``write_csv``, values parsed as float where possible."""
    with open(path, newline="") as f:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _number(v):
    try:
        return float(v)
    except ValueError:
        return v


def versions() -> dict:
    """Versions of jaxrnn, jax, jaxlib, optax, numpy, Python, and the device kind."""
    from importlib.metadata import version

    import jax
    import numpy
    import optax

    from jaxrnn import __version__

    device = jax.devices()[0]
    return {
        "jaxrnn": __version__, "jax": jax.__version__, "jaxlib": version("jaxlib"),
        "optax": optax.__version__, "numpy": numpy.__version__,
        "python": platform.python_version(), "platform": device.platform,
        "device_kind": device.device_kind, "device_count": jax.device_count(),
    }


def make_run_dir(out, cfg, *, exist_ok: bool = False, started: str = "summary.json",
                 origin: dict | None = None, again: str = "pass --overwrite to replace it"
                 ) -> Path:
    """Creates ``out`` and writes ``config.json``: every field, its hash, the versions and
    where the run came from (``origin``, ``jaxrnn.io.provenance.record``: preset, overrides,
    argv, git commit, XLA_FLAGS; a library call without one records the git commit and the
    environment only). ``again`` is the fix the "already holds a run" error offers besides
    another --out (``--resume`` for a resumable task).

    A directory whose run never got going (``config.json`` but no ``started`` file, e.g. a run
    interrupted at start-up) is started again.

    Raises:
      FileExistsError: ``out`` already holds a run (``config.json`` and ``started``) and
        ``exist_ok`` is False (nothing is touched).
      NotADirectoryError: ``out`` (or a folder above it) is a file.
    Only the writer (``is_writer``) checks and writes; another process returns ``out`` at once.
    """
    out = Path(out)
    if not is_writer():
        return out
    if (out / "config.json").exists() and (out / started).exists() and not exist_ok:
        raise FileExistsError(f"{out} already holds a run ({started}); choose another --out "
                              f"or {again}")
    blocked = next((p for p in (out, *out.parents) if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise NotADirectoryError(f"--out {str(out)!r}: {str(blocked)!r} is a file, not a "
                                 f"directory; choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _raise_naming(e, out)
    origin = origin or provenance.record(None)
    write_json(out / "config.json", {"config": to_dict(cfg), "config_hash": config_hash(cfg),
                                     **origin, "versions": versions()})
    return out


PROGRAMS = "programs"
OLD_PROGRAMS = "cells"  # the same folder in sweep directories written before the rename


def program_file(sweep_dir, pid: str, suffix: str) -> Path:
    """A sweep program's saved file ``programs/<pid><suffix>``; in a sweep directory written
    before the rename, the existing ``cells/<pid><suffix>`` instead (read and resumed as is)."""
    old = Path(sweep_dir) / OLD_PROGRAMS / f"{pid}{suffix}"
    return old if old.exists() else Path(sweep_dir) / PROGRAMS / f"{pid}{suffix}"


def program_files(sweep_dir, pattern: str) -> list[Path]:
    """Every saved program file matching ``pattern`` (e.g. ``"*.json"``) in ``programs/`` and
    an old sweep directory's ``cells/``, sorted by file name."""
    found = [p for d in (PROGRAMS, OLD_PROGRAMS) for p in (Path(sweep_dir) / d).glob(pattern)]
    return sorted(found, key=lambda p: p.name)
