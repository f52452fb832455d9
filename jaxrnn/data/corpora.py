"""Named text corpora: a downloaded-and-verified ``tinyshakespeare`` and an offline ``stdlib``.

``tinyshakespeare`` (karpathy's char-rnn data, 1,115,394 bytes) is looked up in this order:

1. ``$JAXRNN_TINYSHAKESPEARE``: a local copy (checked against the size and sha256);
2. the per-user cache ``<cache>/tinyshakespeare.txt`` (checked the same way), where
   ``<cache>`` is ``$JAXRNN_CACHE``, else ``$XDG_CACHE_HOME/jaxrnn``, else ``~/.cache/jaxrnn``;
3. a download from ``TINYSHAKESPEARE.url`` into the cache (skipped when ``$JAXRNN_OFFLINE`` is
   set). A download whose size or sha256 differs is deleted, never cached.

``stdlib`` is the concatenation of a fixed, sorted list of this Python's own standard-library
sources (about 1 MB), so a character experiment runs on any machine without network; its
content depends on the Python version (the run records its sha256 and Python version).
"""
from __future__ import annotations

import hashlib
import os
import sys
import sysconfig
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

from jaxrnn.data.text import decode_utf8


class RemoteFile(NamedTuple):
    """A file to download: where from, its cache name, and what it must hash to."""

    url: str
    filename: str
    size: int
    sha256: str
    env: str  # environment variable that may point at a local copy


TINYSHAKESPEARE = RemoteFile(
    url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/"
        "input.txt",
    filename="tinyshakespeare.txt", size=1_115_394,
    sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    env="JAXRNN_TINYSHAKESPEARE")

STDLIB_FILES = (  # stable across Python 3.10-3.13; sorted, concatenated in this order
    "argparse.py", "ast.py", "bisect.py", "calendar.py", "configparser.py", "dataclasses.py",
    "difflib.py", "enum.py", "fractions.py", "functools.py", "heapq.py", "inspect.py",
    "pprint.py", "random.py", "shutil.py", "string.py", "subprocess.py", "textwrap.py",
    "tokenize.py", "typing.py")

CORPORA = ("tinyshakespeare", "stdlib")


def cache_dir() -> Path:
    """The per-user cache: ``$JAXRNN_CACHE``, ``$XDG_CACHE_HOME/jaxrnn`` or ``~/.cache/jaxrnn``."""
    if os.environ.get("JAXRNN_CACHE"):
        return Path(os.environ["JAXRNN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jaxrnn"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, remote: RemoteFile, where: str) -> Path:
    """Returns ``path`` if its size and sha256 match ``remote``; ValueError otherwise."""
    size = path.stat().st_size
    if size != remote.size or _sha256_file(path) != remote.sha256:
        raise ValueError(
            f"{where} {str(path)!r} is not {remote.filename}: expected {remote.size} bytes with "
            f"sha256 {remote.sha256}, got {size} bytes with sha256 {_sha256_file(path)}; "
            f"replace or delete it")
    return path


def download(remote: RemoteFile, dest: Path, *, timeout: float = 30.0) -> Path:
    """Downloads ``remote.url`` to ``dest`` (atomically), verifying size and sha256.

    Raises:
      OSError (urllib.error.URLError, TimeoutError): the download failed.
      ValueError: the bytes do not match; nothing is left at ``dest`` or beside it.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        h, n = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(remote.url,
                                                                 timeout=timeout) as resp:
            while n <= remote.size:  # read at most one byte past the expected size
                block = resp.read(min(1 << 16, remote.size + 1 - n))
                if not block:
                    break
                h.update(block)
                out.write(block)
                n += len(block)
        if n != remote.size or h.hexdigest() != remote.sha256:
            got = (f"sha256 {h.hexdigest()}" if n == remote.size else
                   f"{n} bytes" if n < remote.size else "more bytes")
            raise ValueError(
                f"download from {remote.url} is corrupt: expected {remote.size} bytes with "
                f"sha256 {remote.sha256}, got {got}; nothing was cached, try again")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def fetch(remote: RemoteFile = TINYSHAKESPEARE, *, cache: Path | None = None,
          timeout: float = 30.0) -> Path:
    """The verified local path of ``remote``: the env-var copy, the cache, or a fresh download.

    Raises:
      FileNotFoundError: not available locally and the download failed or is disabled; the
        message names both ways out (a local copy, or the network).
      ValueError: a local copy, cached file or download whose size/sha256 do not match.
    """
    local = os.environ.get(remote.env)
    if local:
        path = Path(local).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"${remote.env}={local!r} does not name a file")
        return verify(path, remote, f"${remote.env}")
    cached = (cache or cache_dir()) / remote.filename
    if cached.is_file():
        return verify(cached, remote, "cached file")
    help_ = (f"either connect to the network and retry (it is downloaded once into {cached}), "
             f"or point ${remote.env} at a local copy (or copy one to {cached}); "
             f"--text PATH trains on any file and --corpus=stdlib needs no network")
    if os.environ.get("JAXRNN_OFFLINE"):
        raise FileNotFoundError(f"{remote.filename} is not cached and $JAXRNN_OFFLINE is set: "
                                f"{help_}")
    try:
        return download(remote, cached, timeout=timeout)
    except (urllib.error.URLError, OSError) as e:
        raise FileNotFoundError(f"could not download {remote.filename} from {remote.url} "
                                f"({e}): {help_}") from e


def find_local(remote: RemoteFile = TINYSHAKESPEARE, *, cache: Path | None = None) -> Path | None:
    """The verified local copy of ``remote`` (``$env``, else the cache), or None; never downloads.

    Raises:
      FileNotFoundError / ValueError: ``$env`` is set but names no file or a wrong one.
    """
    if os.environ.get(remote.env):
        return fetch(remote, cache=cache)
    cached = (cache or cache_dir()) / remote.filename
    return verify(cached, remote, "cached file") if cached.is_file() else None


def stdlib_text() -> tuple[str, list[str]]:
    """The offline corpus: ``STDLIB_FILES`` of this Python's stdlib, concatenated; and the paths."""
    root = Path(sysconfig.get_paths()["stdlib"])
    paths = [root / name for name in STDLIB_FILES if (root / name).is_file()]
    if len(paths) < len(STDLIB_FILES) // 2:
        raise FileNotFoundError(f"the Python standard library sources are missing under {root} "
                                f"(found {len(paths)} of {len(STDLIB_FILES)} files); use --text "
                                f"PATH or the tinyshakespeare corpus")
    text = "".join(decode_utf8(p.read_bytes(), str(p)) for p in paths)
    return text, [str(p) for p in paths]


def load_corpus(name: str, *, cache: Path | None = None) -> tuple[str, dict]:
    """``(text, info)`` of the corpus called ``name`` (``CORPORA``); info records its source."""
    if name == "tinyshakespeare":
        path = fetch(TINYSHAKESPEARE, cache=cache)
        return decode_utf8(path.read_bytes(), str(path)), {
            "corpus": name, "path": str(path), "url": TINYSHAKESPEARE.url}
    if name == "stdlib":
        text, paths = stdlib_text()
        return text, {"corpus": name, "files": paths, "python": sys.version.split()[0]}
    raise ValueError(f"unknown corpus {name!r}; expected one of {', '.join(CORPORA)} "
                     f"(or --text PATH for any UTF-8 file)")
