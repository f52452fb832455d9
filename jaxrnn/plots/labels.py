"""How a number or a swept field's value is written in tables and figures (shared by the sweep
report's Markdown and the sweep figures, so both say the same thing)."""
from __future__ import annotations

import math

INTEGER_FIELDS = ("bptt_window", "hidden", "seq_len", "window")  # "window": the old seq_len


def fmt(x) -> str:
    """A number in 4 significant digits (3-digit exponent form below 1e-3); "–" when missing."""
    if isinstance(x, str):
        return x
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:.4g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.3e}"


def value_label(field: str, v) -> str:
    """A field's value: ``bptt_window`` 0 is "full", integral sizes print as integers."""
    if field == "bptt_window" and v in (0, 0.0):
        return "full"
    if isinstance(v, float) and v.is_integer() and field in INTEGER_FIELDS:
        return str(int(v))
    return fmt(v)
