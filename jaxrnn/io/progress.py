"""A dependency-free progress bar with rate and ETA, written to stderr, and ``compiling``.

It draws only when stderr is a terminal or when ``force=True``, and at most ``fps`` times a
second, so it costs nothing inside a fast loop. Call ``update`` at logging intervals only: the
training loops fetch metrics from the device there, not every step. Lines printed while a bar
is drawn go through ``bar.write`` (it clears the bar, prints the line, draws the bar again), so
they never run into the bar. The rate is over the seconds the caller says were spent training
(``rate_seconds``), so the bar, the metrics rows and the summary report one throughput that
excludes compilation (and evaluation) alike.

tqdm would do the drawing too; this file is smaller than the glue it would need for the
training-seconds rate, and keeps the dependency list at jax, optax, chex, matplotlib, numpy.
"""
from __future__ import annotations

import contextlib
import sys
import time


@contextlib.contextmanager
def compiling(what: str, *, enabled: bool = True, stream=None):
    """Prints ``compiling {what}…`` before the block and ``done in S s`` after it (XLA can
    take many seconds, and nothing else shows that the program is working). Yields a dict
    whose ``"seconds"`` holds the block's wall time afterwards."""
    stream = stream or sys.stderr
    timing = {"seconds": 0.0}
    if enabled:
        stream.write(f"compiling {what}… ")
        stream.flush()
    t0 = time.perf_counter()
    yield timing
    timing["seconds"] = time.perf_counter() - t0
    if enabled:
        stream.write(f"done in {timing['seconds']:.1f} s\n")
        stream.flush()


def _fmt_time(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """``with Progress(total, unit="epoch") as bar: bar.update(n, loss=...)``."""

    def __init__(self, total: int, *, unit: str = "it", rate_unit: str | None = None,
                 stream=None, force: bool = False, fps: float = 4.0):
        self.total, self.unit, self.rate_unit = max(int(total), 1), unit, rate_unit
        self.stream = stream or sys.stderr
        self.enabled = force or getattr(self.stream, "isatty", lambda: False)()
        self.min_interval, self.start, self.last_draw = 1.0 / fps, time.perf_counter(), 0.0
        self.done, self.rate_count, self.rate_seconds, self.metrics = 0, 0.0, None, {}
        self.drawn = False

    def update(self, done: int, rate_count: float | None = None, *,
               rate_seconds: float | None = None, **metrics) -> None:
        """Sets progress to ``done`` units; ``rate_count``: cumulative items for the rate, over
        ``rate_seconds`` (cumulative training seconds; default: the wall time since start)."""
        self.done, self.metrics = done, metrics
        if rate_count is not None:
            self.rate_count = rate_count
        if rate_seconds is not None:
            self.rate_seconds = rate_seconds
        now = time.perf_counter()
        if self.enabled and (now - self.last_draw >= self.min_interval or done >= self.total):
            self.last_draw, self.drawn = now, True
            self.stream.write("\r" + self.line(now, metrics))
            self.stream.flush()

    def write(self, text: str) -> None:
        """Prints a line (to stdout) without colliding with the bar: the bar's line is cleared
        first and drawn again below the text."""
        if self.enabled and self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
        print(text, flush=True)
        if self.enabled and self.drawn:
            self.stream.write(self.line(time.perf_counter(), self.metrics))
            self.stream.flush()

    def line(self, now: float, metrics: dict) -> str:
        elapsed = now - self.start
        frac = min(self.done / self.total, 1.0)
        bar = "#" * int(24 * frac) + "-" * (24 - int(24 * frac))
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        rate = ""
        seconds = elapsed if self.rate_seconds is None else self.rate_seconds
        if self.rate_unit and seconds > 0:
            rate = f" {self.rate_count / seconds:,.0f} {self.rate_unit}/s"
        text = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        return (f"[{bar}] {self.done}/{self.total} {self.unit} {_fmt_time(elapsed)}<"
                f"{_fmt_time(eta)}{rate} {text}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
