"""The sine task's ``Config`` (defaults: the "vidhya" protocol) and its named presets.

Presets (the first is the default; every field can be overridden as ``--field=value``; the
sequence length T is ``seq_len``, formerly ``window``, still accepted with a message):

====================  ==========================================================================
``vidhya``            SEEDS A: sin(0..199), T=50, 100/50 windows, sigmoid H=100, no biases,
                      per-position input weight U (H, T), U(0,1) init (numpy seed 42 draws,
                      the published program's), per-record SGD 1e-4, clip ±10, truncation 5,
                      loss Σ ½(y - ŷ)²; correct gradients
``vidhya-standard``   the same with an ordinary (H, 1) input weight
``vlasov``            SEEDS C: sin(linspace(0, 100, 1000)), T=10, 792/198, tanh H=16,
                      randn*0.01, per-sample SGD 0.005, clip ±1, loss mean_t (ŷ_t - y)² on
                      every step, 2000 epochs
``vlasov-normclip``   the text's norm clipping ``G -> G / ||G||`` when ``||G|| > 1``
``vlasov-last``       loss ½ (ŷ_T - y)² on the last step only
``adam-rnn|lstm|gru`` the vlasov data, minibatch-32 Adam (cosine-decayed), glorot/orthogonal
                      init, last-step MSE
``noisy``             sine + N(0, 0.1²) noise, GRU, Adam
``two-freq``          sin(x) + 0.5 sin(√2 x), LSTM, Adam
``am-fm``             amplitude- and frequency-modulated sine, one point per radian, LSTM, Adam
``sincos``            two channels (sin, cos) in and out, GRU, Adam
``sunspots``          yearly sunspots (statsmodels, ``pip install "jaxrnn[data]"``), GRU, Adam
====================  ==========================================================================
"""
from __future__ import annotations

import dataclasses

from jaxrnn.cells import get_cell
from jaxrnn.data.real import REAL
from jaxrnn.data.sine import SYNTHETIC
from jaxrnn.initializers import get_initializer
from jaxrnn.io import config
from jaxrnn.optim import CLIPS, OPTIMIZERS
from jaxrnn.parallel import METHODS as PARALLEL_METHODS
from jaxrnn.train import DIVERGENCE_FACTOR

SERIES = SYNTHETIC + tuple(REAL)
SINE_LOSSES = ("last", "last_half_sum", "all_steps")
ENCODINGS = ("position", "value")
DTYPES = ("float32", "float64")
SCHEDULES = ("constant", "cosine")
UNROLL_METHODS = ("scan",) + PARALLEL_METHODS  # the training loss's evaluation over time


INITIALISERS = ("input_init", "recurrent_init", "readout_init")


@dataclasses.dataclass(frozen=True)
class Config(config.Config):
    """One sine experiment. Defaults are the "vidhya" preset (runs in seconds)."""

    RANGES = {"hidden": ">=1", "seq_len": ">=1", "epochs": ">=1", "log_every": ">=1",
              "eval_every": ">=1", "forecast_steps": ">=1", "forecast_starts": ">=1",
              "batch_size": ">=0", "bptt_window": ">=0", "scan_unroll": ">=0",
              "numpy_init_seed": ">=-1", "n_points": ">=0", "learning_rate": ">0",
              "loss_scale": ">0", "clip_value": ">0", "train_fraction": "(0,1)"}
    CHOICES = {"series": SERIES, "encoding": ENCODINGS, "loss": SINE_LOSSES,
               "optimizer": OPTIMIZERS, "clip": CLIPS, "dtype": DTYPES,
               "lr_schedule": SCHEDULES, "unroll_method": UNROLL_METHODS}
    RENAMED = {"window": "seq_len"}

    series: str = "sine"  # SERIES: a synthetic kind (jaxrnn.data.sine) or a real one
    n_points: int = 200  # samples; for a real series 0 = all of it, else its first n_points
    x_stop: float = 199.0  # synthetic series span x in [0, x_stop] (ignored by real series)
    noise: float = 0.0  # std of additive Gaussian noise (synthetic series)
    seq_len: int = 50  # T: steps per window; each window predicts the next value
    train_fraction: float = 2 / 3  # first round(f N) windows train, the rest are held out
    encoding: str = "position"  # "position": x_t e_t, input weight (H, T); "value": (H, C)
    cell: str = "rnn"
    activation: str = "sigmoid"  # rnn only
    hidden: int = 100
    bias: bool = False  # b_h (rnn) and b_y; LSTM/GRU keep their gate biases
    input_init: str = "uniform01"
    recurrent_init: str = "uniform01"
    readout_init: str = "uniform01"
    numpy_init_seed: int = 42  # >= 0: numpy draws W_xh, W_hh, W_hy in that order; -1: jax key
    loss: str = "last_half_sum"  # SINE_LOSSES (jaxrnn.model.LOSSES)
    loss_scale: float = 1.0  # multiplies the loss (and so its gradient)
    bptt_window: int = 5  # truncated BPTT window anchored at the last step; 0 = full BPTT
    optimizer: str = "sgd"
    learning_rate: float = 1e-4
    lr_schedule: str = "constant"  # "constant" or "cosine" (decay to 0 over all updates)
    clip: str = "value"  # "none", "value" (element-wise) or "global_norm"
    clip_value: float = 10.0
    divergence_factor: float = DIVERGENCE_FACTOR  # stop when an epoch's loss > this x the first
    batch_size: int = 1  # 1: per-sample SGD (one lax.scan over samples); 0: full batch
    shuffle: bool = False  # a fresh sample order every epoch
    epochs: int = 25
    seed: int = 0  # jax key of the init (numpy_init_seed = -1) and of the shuffles
    dtype: str = "float32"  # "float64" needs jax_enable_x64 (the jaxrnn command switches it on)
    log_every: int = 1  # epochs per jitted chunk: metrics reach the host only between chunks
    eval_every: int = 1  # whole-set train/held-out evaluation every k epochs (and the last)
    scan_unroll: int = 0  # lax.scan unroll in the train step; 0: all T steps if T <= 16, else 1
    unroll_method: str = "scan"  # train loss by lax.scan or parallel in time: deer, quasi-deer, elk
    forecast_steps: int = 100  # closed-loop horizon
    forecast_starts: int = 8  # start windows in the held-out part

    def check(self):
        """Cross-field rules (the base checks types, choices and ranges first)."""
        get_cell(self.cell, self.activation)
        for name in INITIALISERS:
            get_initializer(getattr(self, name))
        self._check_data()
        self._check_numpy_init()
        if self.unroll_method != "scan" and self.bptt_window:
            raise ValueError(f"unroll_method={self.unroll_method!r} evaluates whole sequences "
                             f"(no truncation): set --bptt_window=0 (full BPTT) or use "
                             f"--unroll_method=scan")

    def _check_data(self):
        if self.series in REAL:
            if self.seq_len < REAL[self.series]:
                raise ValueError(f"seq_len must be >= the season ({REAL[self.series]}) of "
                                 f"{self.series!r} for the seasonal-naive baseline; got "
                                 f"{self.seq_len}")
            return
        if self.n_points < self.seq_len + 4:
            raise ValueError(f"n_points must be >= seq_len + 4 = {self.seq_len + 4} (at least "
                             f"two train and two held-out windows); got {self.n_points}")
        if not self.x_stop > 0:
            raise ValueError(f"x_stop must be > 0; got {self.x_stop!r}")
        if self.noise < 0 or (self.series == "noisy" and self.noise == 0):
            raise ValueError(f"noise must be >= 0 (> 0 for series='noisy'); got {self.noise!r}")
        if self.encoding == "position" and self.series == "sincos":
            raise ValueError("encoding='position' needs one input channel; series='sincos' has "
                             "two: use --encoding=value")

    def _check_numpy_init(self):
        if self.numpy_init_seed < 0:
            return
        if self.cell != "rnn":
            raise ValueError(f"numpy_init_seed >= 0 replays numpy draws for cell='rnn' only; "
                             f"use --numpy_init_seed=-1 for cell={self.cell!r}")
        for name in INITIALISERS:
            if getattr(self, name) not in ("uniform01", "randn001"):
                raise ValueError(f"numpy_init_seed >= 0 supports {name} 'uniform01' or "
                                 f"'randn001'; got {getattr(self, name)!r} (or set "
                                 f"--numpy_init_seed=-1)")


_VIDHYA = Config()
_VLASOV = dataclasses.replace(
    _VIDHYA, n_points=1000, x_stop=100.0, seq_len=10, train_fraction=0.8, encoding="value",
    activation="tanh", hidden=16, bias=True, input_init="randn001", recurrent_init="randn001",
    readout_init="randn001", numpy_init_seed=-1, loss="all_steps", bptt_window=0,
    learning_rate=0.005, clip_value=1.0, epochs=2000, log_every=100, eval_every=10)
_ADAM = dataclasses.replace(
    _VLASOV, hidden=32, input_init="glorot", recurrent_init="orthogonal", readout_init="glorot",
    loss="last", optimizer="adam", learning_rate=3e-3, lr_schedule="cosine", clip="global_norm",
    clip_value=1.0,
    batch_size=32, shuffle=True, epochs=300, log_every=25, eval_every=5)

PRESETS = {
    "vidhya": _VIDHYA,
    "vidhya-standard": dataclasses.replace(_VIDHYA, encoding="value"),
    "vlasov": _VLASOV,
    "vlasov-normclip": dataclasses.replace(_VLASOV, clip="global_norm"),
    "vlasov-last": dataclasses.replace(_VLASOV, loss="last", loss_scale=0.5),
    "adam-rnn": _ADAM,
    "adam-lstm": dataclasses.replace(_ADAM, cell="lstm", activation="tanh"),
    "adam-gru": dataclasses.replace(_ADAM, cell="gru", activation="tanh"),
    "noisy": dataclasses.replace(_ADAM, cell="gru", series="noisy", noise=0.1),
    "two-freq": dataclasses.replace(_ADAM, cell="lstm", series="two_freq", seq_len=20),
    "am-fm": dataclasses.replace(_ADAM, cell="lstm", series="am_fm", n_points=2000,
                                 x_stop=1999.0, seq_len=20),
    "sincos": dataclasses.replace(_ADAM, cell="gru", series="sincos"),
    "sunspots": dataclasses.replace(_ADAM, cell="gru", series="sunspots", n_points=0,
                                    seq_len=22, batch_size=16, epochs=400,
                                    forecast_steps=30, forecast_starts=8),
}
