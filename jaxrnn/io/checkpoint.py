"""Checkpoints: any pytree of arrays plus JSON metadata in one file, written atomically.

A checkpoint is a single ``.npz`` file: one entry per leaf, named by its path in the tree
(``state/params/layers/0/W_xh``), and the metadata as UTF-8 JSON in the entry ``__meta__``. It is
written to a temporary file and renamed (``runs.atomic_write_bytes``), so a crash mid-write
leaves the previous checkpoint intact. Restoring takes a *template* tree (e.g. freshly initialised
params and ``optimizer.init``) and refuses, naming the leaf, any missing or extra entry or a
shape/dtype that differs, so a checkpoint of another model is never half-loaded.

Scale: a leaf split over devices (a data-parallel run's carries) is stored whole, gathered on
the host (``process_allgather`` when other hosts hold parts of it; every process calls ``save``,
only process 0 writes, ``runs.is_writer``), so a checkpoint restores onto any device count; the
caller lays the whole arrays out again (``jaxrnn.scale.mesh.place``). A typed PRNG key
(``jax.random.key``) is stored as its ``key_data`` (uint32) and rewrapped with the template's
implementation on restore.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import jax
import numpy as np

from jaxrnn.io.failures import CheckpointError
from jaxrnn.io.runs import atomic_write_bytes

META = "__meta__"
FORMAT = 1


def _key_name(k) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def flatten(tree, prefix: str = "") -> dict:
    """``{"prefix/path/to/leaf": np.ndarray}`` for every leaf of ``tree``."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    out = {}
    for path, leaf in leaves:
        name = "/".join([prefix] * bool(prefix) + [_key_name(k) for k in path])
        out[name] = _whole(leaf)
    return out


def _is_key(leaf) -> bool:
    return jax.dtypes.issubdtype(getattr(leaf, "dtype", None), jax.dtypes.prng_key)


def _whole(leaf) -> np.ndarray:
    """The whole value of ``leaf`` as numpy: a typed key's ``key_data``; an array split over
    several processes gathered from all of them (a collective: every process must call)."""
    if _is_key(leaf):
        leaf = jax.random.key_data(leaf)
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(leaf, tiled=True))
    return np.asarray(leaf)


def save(path, tree, meta: dict) -> Path:
    """Writes ``tree``'s leaves and ``meta`` (JSON-serialisable) to ``path`` atomically."""
    arrays = flatten(tree)
    if META in arrays:
        raise ValueError(f"a leaf may not be named {META!r}")
    meta = {"format": FORMAT, **meta}
    buf = io.BytesIO()
    np.savez(buf, **arrays, **{META: np.frombuffer(json.dumps(meta).encode(), np.uint8)})
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def load(path) -> tuple[dict, dict]:
    """``(arrays, meta)`` of a checkpoint file.

    Raises:
      FileNotFoundError: no file at ``path``.
      CheckpointError: the file is empty, damaged or not a jaxrnn checkpoint (the message names
        it and what to use instead, never numpy's own advice).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        meta = json.loads(arrays.pop(META).tobytes().decode()) if META in arrays else None
    except Exception as e:  # noqa: BLE001 (numpy raises many kinds on a damaged file)
        raise _unreadable(path, _why(path, e)) from None
    if meta is None:
        raise _unreadable(path, f"no {META} entry")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} has checkpoint format {meta.get('format')}; this "
                              f"jaxrnn reads format {FORMAT}")
    return arrays, meta


def _why(path: Path, e: Exception) -> str:
    if path.stat().st_size == 0:
        return "the file is empty"
    if isinstance(e, OSError) and not isinstance(e, zipfile.BadZipFile):
        return f"cannot read it: {e.strerror or e}"
    return "damaged, or not a checkpoint"


def _unreadable(path: Path, why: str) -> CheckpointError:
    other = "best.ckpt" if path.name == "latest.ckpt" else "latest.ckpt"
    return CheckpointError(
        f"{str(path)!r} is not a readable jaxrnn checkpoint ({why}); use another checkpoint "
        f"(e.g. {str(path.with_name(other))!r}), or start a new run without --resume")


def restore(template, arrays: dict, *, prefix: str = "", source: str = "checkpoint"):
    """A tree shaped like ``template`` with the leaves from ``arrays`` (``flatten`` names).

    Args: template: a tree of the wanted structure, shapes and dtypes; arrays: from ``load``;
      prefix: restore only the entries under ``prefix/`` (e.g. "state/params").
    Raises:
      ValueError: naming every leaf that is missing, unexpected, or of another shape or dtype.
    """
    want = flatten(template, prefix)
    if prefix:
        arrays = {n: a for n, a in arrays.items() if n.startswith(prefix + "/")}
    problems = [f"missing {n}" for n in want if n not in arrays]
    problems += [f"unexpected {n}" for n in arrays if n not in want]
    for name, ref in want.items():
        got = arrays.get(name)
        if got is not None and (got.shape != ref.shape or got.dtype != ref.dtype):
            problems.append(f"{name}: {got.dtype}{list(got.shape)} where the model has "
                            f"{ref.dtype}{list(ref.shape)}")
    if problems:
        raise ValueError(f"{source} does not fit this model/optimiser ({len(problems)} "
                         f"difference(s): {'; '.join(problems[:6])}"
                         f"{' ...' if len(problems) > 6 else ''})")
    leaves = [_like(ref, jax.numpy.asarray(arrays[name]))
              for name, ref in zip(want, jax.tree_util.tree_leaves(template))]
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), leaves)


def _like(template_leaf, array):
    """``array`` as the template's kind of leaf (a typed key is rewrapped)."""
    if _is_key(template_leaf):
        return jax.random.wrap_key_data(array, impl=jax.random.key_impl(template_leaf))
    return array


def check_meta(meta: dict, expected: dict, *, source: str) -> None:
    """Raises ValueError naming each key whose value in ``meta`` differs from ``expected``."""
    diffs = []
    for key, value in expected.items():
        if meta.get(key) != value:
            diffs.append(f"{key}: checkpoint has {_short(meta.get(key))}, this run has "
                         f"{_short(value)}")
    if diffs:
        raise ValueError(f"{source} belongs to a different run and is refused ("
                         f"{'; '.join(diffs)})")


def _short(value, n: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= n else text[:n] + "..."
