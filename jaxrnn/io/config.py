"""Frozen-dataclass configs with one validation path: unknown fields, wrong types, values out of
range or outside their choices are refused with a message naming the field and the fix.

Every task defines ``Config``, a frozen dataclass subclass of ``config.Config`` whose defaults run
in about a minute on a CPU, and ``PRESETS: dict[str, Config]``. A subclass declares its rules as
data and only cross-field rules as code::

    @dataclasses.dataclass(frozen=True)
    class Config(config.Config):
        RANGES = {"hidden": ">=1", "learning_rate": ">0", "train_fraction": "(0,1)"}
        CHOICES = {"optimizer": OPTIMIZERS}          # or a Literal[...] annotation
        RENAMED = {"window": "seq_len"}              # old name -> new, accepted with a message
        hidden: int = 32
        ...
        def check(self):                             # cross-field rules, after the above
            ...

``validate()`` checks every field's type, choices and range, then calls ``check()``. Overrides
come from the command line as ``--field=value`` (or ``--field value``) or from a dict; values are
parsed by the field's type (``override``), then the whole config is validated.
"""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import re
import sys
import types
import typing
from typing import ClassVar


def _field_types(cfg_cls) -> dict:
    hints = typing.get_type_hints(cfg_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cfg_cls)}


def _unknown(name, valid, what="config field"):
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ValueError(f"unknown {what} {name!r}{hint}; valid: {', '.join(sorted(valid))}")


def _parse(name, typ, value):
    """Converts value (str from the CLI, or any Python value) to typ, or raises TypeError."""
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(typ)
        if value is None or (isinstance(value, str) and value.lower() == "none"):
            if type(None) in args:
                return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _parse(name, arg, value)
            except (TypeError, ValueError):
                pass
        raise TypeError(f"{name}: {value!r} fits none of {typ}")
    if origin is typing.Literal:
        choices = typing.get_args(typ)
        if value in choices:
            return value
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    if origin is tuple:
        (elem, *_) = typing.get_args(typ) or (str,)
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{name} must be a comma-separated list; got {value!r}")
        return tuple(_parse(name, elem, v) for v in value)
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
            return value.lower() in ("true", "1", "yes")
        raise TypeError(f"{name} must be a bool (true/false); got {value!r}")
    if typ in (int, float):
        if isinstance(value, bool):
            raise TypeError(f"{name} must be {typ.__name__}; got bool {value!r}")
        if isinstance(value, str):
            try:
                return typ(value) if typ is float else int(value)
            except ValueError:
                raise TypeError(f"{name} must be {typ.__name__}; got {value!r}") from None
        if typ is int and isinstance(value, float) and not value.is_integer():
            raise TypeError(f"{name} must be int; got {value!r}")
        if isinstance(value, (int, float)):
            return typ(value)
        raise TypeError(f"{name} must be {typ.__name__}; got {type(value).__name__} {value!r}")
    if typ is str:
        if not isinstance(value, str):
            raise TypeError(f"{name} must be str; got {type(value).__name__} {value!r}")
        return value
    return value


_RANGE = re.compile(r"^\s*(?:(>=|>|<=|<)\s*(-?[\d.e+-]+)|([\[(])\s*(-?[\d.e+-]+)\s*,\s*"
                    r"(-?[\d.e+-]+)\s*([\])]))\s*$")


def check_range(name: str, value, rule: str) -> None:
    """Raises ValueError unless ``value`` satisfies ``rule``: ``">=1"``, ``">0"``, ``"<=1"``,
    ``"<0"``, or an interval ``"(0,1)"``, ``"[0,1)"``, ``"[0,1]"``, ``"(0,1]"``."""
    m = _RANGE.match(rule)
    if m is None:
        raise ValueError(f"bad range rule {rule!r} for {name}")
    op, bound, lo_br, lo, hi, hi_br = m.groups()
    if op:
        b = float(bound)
        ok = {">=": value >= b, ">": value > b, "<=": value <= b, "<": value < b}[op]
        want = f"{op} {bound}"
    else:
        lo_v, hi_v = float(lo), float(hi)
        ok = ((value >= lo_v if lo_br == "[" else value > lo_v)
              and (value <= hi_v if hi_br == "]" else value < hi_v))
        want = f"in {lo_br}{lo}, {hi}{hi_br}"
    if not ok:
        raise ValueError(f"{name} must be {want}; got {value!r} (set --{name}=VALUE)")


def check_choice(name: str, value, choices) -> None:
    """Raises ValueError naming the valid choices (and the closest one) unless value is one."""
    if value not in choices:
        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}; got "
                         f"{value!r}{hint}")


# ranges every task's config obeys for the fields it has (one rule, e.g. char and sine alike)
COMMON_RANGES = {"learning_rate": ">0", "divergence_factor": ">1"}


@dataclasses.dataclass(frozen=True)
class Config:
    """The base of every task's config (module docstring): one validation path for all."""

    RANGES: ClassVar[dict] = {}  # field -> range rule (``check_range``)
    CHOICES: ClassVar[dict] = {}  # field -> allowed values (besides Literal annotations)
    RENAMED: ClassVar[dict] = {}  # old field name -> new name, accepted by ``override``

    def validate(self) -> None:
        """Checks each field's type, choices and range, then the cross-field ``check``.

        Raises:
          TypeError: a value of the wrong type. ValueError: out of range, not a valid choice,
            or a cross-field rule broken (each message names the field and the fix).
        """
        ranges = {**COMMON_RANGES, **self.RANGES}
        for name, typ in _field_types(type(self)).items():
            value = getattr(self, name)
            _check_type(name, typ, value)
            if name in self.CHOICES:
                check_choice(name, value, self.CHOICES[name])
            if name in ranges:
                check_range(name, value, ranges[name])
        self.check()

    def check(self) -> None:
        """Cross-field rules of a task (override in a subclass); raise ValueError on a bad one."""


def _check_type(name, typ, value) -> None:
    """Raises TypeError (or ValueError for a Literal) unless value already is of type typ."""
    parsed = _parse(name, typ, value)
    if typing.get_origin(typ) is None and typ in (int, float, str, bool) and (
            type(parsed) is not type(value) and not (typ is float and type(value) is int)):
        raise TypeError(f"{name} must be {typ.__name__}; got {type(value).__name__} {value!r}")


def field_name(cfg, name: str) -> str:
    """The field ``name`` stands for in ``cfg``: dashes read as underscores, and an old name in
    ``RENAMED`` as its new one (``override`` prints the rename message)."""
    key = name.replace("-", "_")
    return getattr(cfg, "RENAMED", {}).get(key, key)


def upgrade_saved(cfg, saved: dict) -> dict:
    """A saved config dict (``config.json``, a checkpoint's meta) in ``cfg``'s current terms: old
    field names mapped (``RENAMED``) and fields added since then taken from ``cfg``, so a run
    written by an older jaxrnn still compares equal to the same config today."""
    upgraded = {field_name(cfg, k): v for k, v in saved.items()}
    return {**to_dict(cfg), **upgraded}


def override(cfg, changes: dict):
    """A copy of ``cfg`` with ``changes`` (field -> value or CLI string) applied, type-checked.

    Raises:
      ValueError: an unknown field (with the closest valid name) or a value outside a choice.
      TypeError: a value that does not parse as the field's type.
    """
    types_ = _field_types(type(cfg))
    renamed = getattr(cfg, "RENAMED", {})
    parsed = {}
    for name, value in changes.items():
        key = name.replace("-", "_")
        if key in renamed and key not in types_:
            print(f"jaxrnn: config field {key!r} is now {renamed[key]!r}; {key!r} is accepted "
                  f"for one release (use --{renamed[key]}=...)", file=sys.stderr)
            key = renamed[key]
        if key not in types_:
            raise _unknown(name, list(types_))
        parsed[key] = _parse(key, types_[key], value)
    new = dataclasses.replace(cfg, **parsed)
    if hasattr(new, "validate"):
        new.validate()
    return new


def parse_overrides(args: list[str]) -> dict:
    """``["--a=1", "--b", "x"]`` -> ``{"a": "1", "b": "x"}``; anything else is refused."""
    out, i = {}, 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or arg == "--":
            raise ValueError(f"expected --field=value, got {arg!r}")
        if "=" in arg:
            key, value = arg[2:].split("=", 1)
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            key, value = arg[2:], args[i + 1]
            i += 1
        else:
            raise ValueError(f"option {arg} needs a value: {arg}=VALUE")
        out[key] = value
        i += 1
    return out


def from_preset(presets: dict, name: str, changes: dict | None = None):
    """The preset called ``name`` with ``changes`` applied; unknown presets list the valid ones."""
    if name not in presets:
        raise _unknown(name, list(presets), what="preset")
    return override(presets[name], changes or {})


def to_dict(cfg) -> dict:
    """A JSON-ready dict of every field."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}


def config_hash(cfg) -> str:
    """sha256 (first 12 hex digits) of the config's canonical JSON."""
    text = json.dumps(to_dict(cfg), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
