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


INF = math.inf
# metric -> (what it is, for axis labels and legends; the interval of values it can take)
METRICS = {
    "val_loss": ("held-out loss", (0.0, INF)),
    "train_loss": ("training loss", (0.0, INF)),
    "val_rmse": ("held-out RMSE", (0.0, INF)),
    "train_rmse": ("training RMSE", (0.0, INF)),
    "val_mse": ("held-out MSE", (0.0, INF)),
    "train_mse": ("training MSE", (0.0, INF)),
    "val_ratio": ("held-out MSE / (1/6), the predict-the-mean MSE", (0.0, INF)),
    "val_bpc": ("held-out bits / char", (0.0, INF)),
    "train_bpc": ("training bits / char", (0.0, INF)),
    "bias_cos_init": ("cos(truncated grad, full grad) at init", (-1.0, 1.0)),
    "bias_cos_final": ("cos(truncated grad, full grad) after training", (-1.0, 1.0)),
    "bias_rel_init": ("||g_k - g|| / ||g|| at init", (0.0, INF)),
    "bias_rel_final": ("||g_k - g|| / ||g|| after training", (0.0, INF)),
    "grad_ratio_init": ("log10(||dL/dh_1|| / ||dL/dh_T||) at init", (-INF, INF)),
    "grad_ratio_final": ("log10(||dL/dh_1|| / ||dL/dh_T||) after training", (-INF, INF)),
    "grad_h_init": ("||dL/dh_t|| at init (LSTM: h and c)", (0.0, INF)),
    "grad_h_final": ("||dL/dh_t|| after training (LSTM: h and c)", (0.0, INF)),
}
FIELDS = {"bptt_window": "BPTT window (steps back; full = no truncation)",
          "learning_rate": "learning rate", "clip": "gradient clipping", "clip_value": "clip at",
          "optimizer": "optimiser", "cell": "cell", "activation": "activation",
          "input_init": "input init", "recurrent_init": "recurrent init",
          "readout_init": "readout init", "seed": "seed"}


def metric_label(name: str) -> str:
    """What a metric is, for an axis ("held-out RMSE"); an unknown name is itself."""
    return METRICS.get(name, (name,))[0]


def metric_domain(name: str) -> tuple:
    """``(lo, hi)`` the metric's values lie in (losses >= 0, cosines in [-1, 1]); unknown:
    unbounded."""
    return METRICS.get(name, (None, (-INF, INF)))[1]


def field_label(name: str) -> str:
    """A swept field for an axis or a legend ("learning rate"); an unknown name is itself."""
    return FIELDS.get(name, name)


def point_label(fields, point: dict) -> str:
    """A legend entry of a grid point: ``case`` values alone ("rnn/sigmoid"), other fields as
    "learning rate 0.01"; "all runs" when there are no fields."""
    parts = [value_label(f, point[f]) if f == "case" else
             f"{field_label(f).split(' (')[0]} {value_label(f, point[f])}" for f in fields]
    return ", ".join(parts) or "all runs"


def carry_grad_label(cell: str | None) -> str:
    """The norm of the loss's gradient w.r.t. a step's carry, in the cell's own letters: h_t for
    the RNN and GRU, (h_t, c_t) for the LSTM."""
    if cell == "lstm":
        return "||dL/d(h_t, c_t)||"
    return "||dL/dh_t||" if cell in ("rnn", "gru", "gru_cho") else "||dL/dc_t|| (c_t: the carry)"


CHANNELS = {"sincos": ("sin", "cos")}  # series -> its channels' names (else value_0, ...)


def channel_names(series: str | None, n: int) -> list:
    """Names of a series' n channels: ``sincos`` is (sin, cos); one channel is "value"."""
    names = CHANNELS.get(series)
    if names and len(names) == n:
        return list(names)
    return ["value"] if n == 1 else [f"value_{i}" for i in range(n)]
