"""Sweep specs: a grid over config fields times a list of seeds, from a file or the command line.

A spec (JSON, or TOML: ``tomllib``, or on Python 3.10 the ``tomli`` it came from)::

    {"name": "clip", "task": "sine", "preset": "vlasov",
     "base": {"epochs": 40},                       # overrides applied to every run
     "cases": [{"cell": "rnn", "activation": "tanh"}, {"cell": "lstm"}],  # optional
     "grid": {"clip": ["none", "value", "global_norm"], "learning_rate": [0.01, 0.1]},
     "seeds": [0, 1, 2, 3, 4],
     "metric": "val_rmse",                         # the main final metric (the task's default)
     "description": "...", "quick": {"base": {"epochs": 5}, "seeds": [0, 1]}}

The runs are every case (a list of override tables, for settings that only go together; default
one empty case) times every point of the grid (``itertools.product`` in the order the fields are
listed) times every seed, each a task ``Config`` built by ``jaxrnn.io.config.override`` from the
preset, so unknown fields, wrong types and invalid values are refused with the config's own
message.
Unknown spec keys are refused too. ``quick`` (optional) is what ``jaxrnn reproduce`` and
``--quick`` apply: base overrides and seeds for a small version of the study.
"""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

from jaxrnn.io.config import field_name, from_preset, override, to_dict
from jaxrnn.sweep.contract import SweepTask, get_task, static_fields

KEYS = ("name", "task", "preset", "base", "cases", "grid", "seeds", "metric", "description",
        "quick")


@dataclasses.dataclass(frozen=True)
class Spec:
    """A validated sweep spec (module docstring); grid values are typed by their fields."""

    name: str
    task: str
    preset: str
    base: dict
    grid: dict  # field -> tuple of values, in order
    seeds: tuple
    metric: str
    description: str = ""
    quick: dict = dataclasses.field(default_factory=dict)
    cases: tuple = ()  # of dicts: override tables crossed with the grid

    def fields(self) -> list:
        """The swept fields: every case key (first-appearance order), then the grid's."""
        keys = [k for case in self.cases for k in case]
        return list(dict.fromkeys(keys + list(self.grid)))

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["cases"] = [dict(c) for c in self.cases]
        d["grid"] = {k: list(v) for k, v in self.grid.items()}
        d["seeds"] = list(self.seeds)
        return d

    def digest(self) -> str:
        """sha256 (12 hex digits) of the canonical JSON: what ``--resume`` compares."""
        text = json.dumps(self.to_json(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


class SweepRun(NamedTuple):
    """One (grid point, seed): its index in the sweep, swept values, seed and full config."""

    index: int
    point: dict
    seed: int
    config: Any


def _unknown_key(key):
    close = difflib.get_close_matches(str(key), KEYS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ValueError(f"unknown spec key {key!r}{hint}; valid: {', '.join(KEYS)}")


def _require(d: dict, key: str, typ, what: str):
    if key not in d:
        raise ValueError(f"spec needs {key!r} ({what})")
    if not isinstance(d[key], typ):
        raise TypeError(f"spec {key!r} must be {what}; got {type(d[key]).__name__} {d[key]!r}")
    return d[key]


def _seeds(value) -> tuple:
    if isinstance(value, str):
        value = parse_seeds(value)
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"spec 'seeds' must be a non-empty list of ints; got {value!r}")
    for s in value:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise TypeError(f"spec 'seeds' must hold ints >= 0; got {s!r}")
    if len(set(value)) != len(value):
        raise ValueError(f"spec 'seeds' lists a seed twice: {list(value)}")
    return tuple(value)


def parse_seeds(text: str) -> list:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,3,7"`` -> [0, 3, 7]; ranges and lists may mix."""
    out = []
    for part in (p.strip() for p in str(text).split(",") if p.strip()):
        lo, sep, hi = part.partition("-")
        try:
            out.extend(range(int(lo), int(hi) + 1) if sep else [int(part)])
        except ValueError:
            raise ValueError(f"seeds must look like 0-4 or 0,1,2; got {text!r}") from None
    return out


def _typed_grid(task: SweepTask, base_cfg, grid) -> dict:
    """Each grid field's values parsed by the field's type (so "0.1" and 0.1 are the same)."""
    if not isinstance(grid, dict):
        raise TypeError(f"spec 'grid' must be a table of field -> list of values; got {grid!r}")
    out = {}
    for field, values in grid.items():
        if field == "seed":
            raise ValueError("'seed' cannot be a grid field; list the seeds in 'seeds'")
        if isinstance(values, (str, int, float)):
            values = [values]
        if not isinstance(values, (list, tuple)) or not values:
            raise ValueError(f"grid field {field!r} needs a non-empty list of values; "
                             f"got {values!r}")
        typed = [getattr(override(base_cfg, {field: v}), field_name(base_cfg, field))
                 for v in values]
        if len(set(map(repr, typed))) != len(typed):
            raise ValueError(f"grid field {field!r} lists a value twice: {list(values)}")
        out[field_name(base_cfg, field)] = tuple(typed)
    return out


def _typed_cases(base_cfg, cases, grid: dict, base: dict) -> tuple:
    """The cases as typed override dicts (each validated against the base config)."""
    if not isinstance(cases, (list, tuple)) or not all(isinstance(c, dict) for c in cases):
        raise TypeError(f"spec 'cases' must be a list of tables (field -> value); got {cases!r}")
    out = []
    for case in cases:
        clash = sorted((set(case) & set(grid)) | (set(case) & set(base)) | ({"seed"} & set(case)))
        if clash:
            raise ValueError(f"case {case} sets {clash}, which the grid, base or seeds already "
                             f"set; keep each field in one place")
        cfg = override(base_cfg, case)
        out.append({field_name(cfg, k): getattr(cfg, field_name(cfg, k)) for k in case})
    if len(set(json.dumps(c, sort_keys=True) for c in out)) != len(out):
        raise ValueError("spec 'cases' lists the same case twice")
    return tuple(out)


def spec_from_dict(d: dict) -> Spec:
    """Validates a spec dict (module docstring) and returns the typed ``Spec``.

    Raises: ValueError / TypeError naming the key or field and what it must be.
    """
    if not isinstance(d, dict):
        raise TypeError(f"a sweep spec must be a table (JSON object); got {type(d).__name__}")
    for key in d:
        if key not in KEYS:
            raise _unknown_key(key)
    task = get_task(_require(d, "task", str, "a task name"))
    preset = d.get("preset", next(iter(task.presets)))
    base = d.get("base", {})
    if not isinstance(base, dict):
        raise TypeError(f"spec 'base' must be a table of field -> value; got {base!r}")
    if "seed" in base:
        raise ValueError("'seed' cannot be set in 'base'; list the seeds in 'seeds'")
    base_cfg = from_preset(task.presets, preset, base)
    grid = _typed_grid(task, base_cfg, d.get("grid", {}))
    both = sorted(set(grid) & {field_name(base_cfg, k) for k in base})
    if both:
        raise ValueError(f"field(s) {both} are in both 'base' and 'grid'; keep one")
    cases = _typed_cases(base_cfg, d.get("cases", []), grid, base)
    metric = d.get("metric", task.metrics[0])
    if metric not in task.metrics:
        raise ValueError(f"metric {metric!r} is not a {task.name} metric; expected one of "
                         f"{', '.join(task.metrics)}")
    quick = d.get("quick", {})
    if not isinstance(quick, dict) or set(quick) - {"base", "seeds"}:
        raise ValueError(f"spec 'quick' may hold only 'base' and 'seeds'; got {quick!r}")
    name = d.get("name", task.name)
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"spec 'name' must be a non-empty string without '/'; got {name!r}")
    base = {field_name(base_cfg, k): getattr(base_cfg, field_name(base_cfg, k)) for k in base}
    return Spec(name, task.name, preset, base, grid, _seeds(d.get("seeds", [0])), metric,
                str(d.get("description", "")), dict(quick), cases)


def load_spec(path) -> Spec:
    """The spec in a ``.json`` or ``.toml`` file, validated."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep spec {str(path)!r} not found")
    if path.suffix not in (".json", ".toml"):
        raise ValueError(f"sweep spec {str(path)!r} must end in .json or .toml")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"sweep spec {str(path)!r} is not a text file (not UTF-8: byte "
                         f"{e.object[e.start]:#04x} at offset {e.start}); give a .json or .toml "
                         f"spec") from None
    kind = path.suffix[1:].upper()
    try:
        data = _parse_spec(text, path.suffix)
    except ValueError as e:  # json.JSONDecodeError and tomllib.TOMLDecodeError
        raise ValueError(f"sweep spec {str(path)!r} is not valid {kind}: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"sweep spec {str(path)!r} must hold a {kind} object (task, base, "
                         f"grid, ...); got {type(data).__name__}")
    return spec_from_dict(data)


def _parse_spec(text: str, suffix: str):
    if suffix == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # the same parser, as a declared dependency on Python 3.10
            import tomli as tomllib

        return tomllib.loads(text)
    return json.loads(text)


def quick_spec(spec: Spec) -> Spec:
    """The spec with its ``quick`` base overrides and seeds applied (itself when it has none)."""
    d = spec.to_json()
    d["base"] = {**spec.base, **spec.quick.get("base", {})}
    d["seeds"] = spec.quick.get("seeds", list(spec.seeds))
    d["quick"] = {}
    return spec_from_dict(d)


def expand(spec: Spec) -> list:
    """Every ``SweepRun`` of the spec: grid points (product, in field order) times seeds."""
    task = get_task(spec.task)
    fields = list(spec.grid)
    case_keys = [k for k in spec.fields() if k not in spec.grid]
    runs = []
    for case in spec.cases or ({},):
        for values in itertools.product(*(spec.grid[f] for f in fields)):
            cfg = from_preset(task.presets, spec.preset, {**spec.base, **case,
                                                          **dict(zip(fields, values))})
            point = {f: getattr(cfg, f) for f in case_keys + fields}
            for seed in spec.seeds:
                runs.append(SweepRun(len(runs), point, seed, override(cfg, {"seed": seed})))
    task.check([r.config for r in runs], list(spec.seeds))
    return runs


class Group(NamedTuple):
    """The runs that share one compiled program, and the program's content id."""

    pid: str
    static: dict
    runs: list


def group_programs(spec: Spec, runs: list) -> list:
    """Runs grouped by their program (static fields), in order of first appearance.

    The id hashes the task, the static fields and every run's full config, so a cell saved for
    one set of runs is never reused for another.
    """
    task = get_task(spec.task)
    groups: dict = {}
    for run in runs:
        static = static_fields(task, run.config)
        groups.setdefault(json.dumps(static, sort_keys=True), (static, []))[1].append(run)
    out = []
    for i, (static, members) in enumerate(groups.values()):
        text = json.dumps([spec.task, static, [to_dict(r.config) for r in members]],
                          sort_keys=True)
        out.append(Group(f"p{i:02d}-{hashlib.sha256(text.encode()).hexdigest()[:10]}",
                         static, members))
    return out
