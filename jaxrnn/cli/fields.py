"""Help text for a task's config: every field (``--help-fields``) and the presets as a table
(``--list-presets``), read from the dataclass itself so the help cannot drift from the code.

A field's description is the comment written beside it in the dataclass's source
(``hidden: int = 32  # units``), found with ``ast`` (the field's line) and ``tokenize`` (the
comments), so a ``#`` inside a string default is never mistaken for one.
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import shutil
import textwrap
import tokenize
import typing

from jaxrnn.io.config import COMMON_RANGES


def field_comments(cls) -> dict:
    """``{field: the comment on its line}`` of dataclass ``cls`` (fields without one: absent)."""
    try:
        lines, first = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return {}
    source = textwrap.dedent("".join(lines))
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                if tok.type == tokenize.COMMENT}
    body = ast.parse(source).body[0].body
    return {node.target.id: comments[node.lineno] for node in body
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
            and node.lineno in comments}


def _type_name(typ) -> str:
    if typing.get_origin(typ) is typing.Literal:
        return "str"
    return getattr(typ, "__name__", None) or str(typ).replace("typing.", "")


def field_rows(cls) -> list[dict]:
    """One dict per field: ``name``, ``type``, ``default``, ``allowed`` (choices or range) and
    ``help`` (the comment beside it)."""
    hints, comments = typing.get_type_hints(cls), field_comments(cls)
    ranges = {**COMMON_RANGES, **getattr(cls, "RANGES", {})}
    rows = []
    for f in dataclasses.fields(cls):
        typ = hints[f.name]
        choices = typing.get_args(typ) if typing.get_origin(typ) is typing.Literal else \
            getattr(cls, "CHOICES", {}).get(f.name)
        allowed = ("one of " + ", ".join(map(str, choices)) if choices else
                   ranges.get(f.name, ""))
        rows.append({"name": f.name, "type": _type_name(typ), "default": repr(f.default),
                     "allowed": allowed, "help": comments.get(f.name, "")})
    return rows


def format_fields(cls, width: int = 100) -> str:
    """Every field as ``--name=TYPE  (default D; allowed)  comment``, wrapped to ``width``."""
    out = []
    for r in field_rows(cls):
        head = f"  --{r['name']}={r['type'].upper()}  (default {r['default']}"
        head += f"; {r['allowed']})" if r["allowed"] else ")"
        out.append(head)
        if r["help"]:
            out.append(textwrap.fill(r["help"], width, initial_indent=" " * 6,
                                     subsequent_indent=" " * 6))
    return "\n".join(out)


def format_presets(presets: dict, cls, width: int | None = None) -> str:
    """The presets against ``cls()``'s defaults: a table (one row per preset, one column per
    field some preset changes, ``.`` where it keeps the default, the defaults last) when it
    fits in ``width`` columns (default: the terminal's), else one wrapped paragraph per preset
    naming only the fields it changes."""
    default = cls()
    names = [f.name for f in dataclasses.fields(cls)]
    changed = [n for n in names if any(getattr(p, n) != getattr(default, n)
                                       for p in presets.values())]
    if not changed:
        return "\n".join(presets) + "\n(every preset uses the defaults)"
    rows = [["preset", *changed]]
    rows += [[name, *(_short(getattr(p, n)) if getattr(p, n) != getattr(default, n) else "."
                      for n in changed)] for name, p in presets.items()]
    rows.append(["(default)", *(_short(getattr(default, n)) for n in changed)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    width = width or shutil.get_terminal_size((100, 24)).columns
    if sum(widths) + 2 * (len(widths) - 1) <= width:
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                         for r in rows)
    blocks = []
    for name, p in presets.items():
        diff = [f"{n}={_short(getattr(p, n))}" for n in changed
                if getattr(p, n) != getattr(default, n)]
        blocks.append(textwrap.fill(f"{name}: " + (", ".join(diff) or "the defaults"), width,
                                    subsequent_indent="    "))
    blocks.append(textwrap.fill("(default): " + ", ".join(
        f"{n}={_short(getattr(default, n))}" for n in changed), width, subsequent_indent="    "))
    return "\n".join(blocks)


def _short(value) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text if len(text) <= 14 else text[:13] + "…"
