"""A dependency-free progress bar with rate and ETA, written to stderr.

It draws only when stderr is a terminal or when ``force=True``, and at most ``fps`` times a
second, so it costs nothing inside a fast loop. Call ``update`` at logging intervals only: the
training loops fetch metrics from the device there, not every step.
"""
from __future__ import annotations

import sys
import time


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
        self.done, self.rate_count = 0, 0.0

    def update(self, done: int, rate_count: float | None = None, **metrics) -> None:
        """Sets progress to ``done`` units; ``rate_count``: cumulative items for the rate."""
        self.done = done
        if rate_count is not None:
            self.rate_count = rate_count
        now = time.perf_counter()
        if self.enabled and (now - self.last_draw >= self.min_interval or done >= self.total):
            self.last_draw = now
            self.stream.write("\r" + self.line(now, metrics))
            self.stream.flush()

    def line(self, now: float, metrics: dict) -> str:
        elapsed = now - self.start
        frac = min(self.done / self.total, 1.0)
        bar = "#" * int(24 * frac) + "-" * (24 - int(24 * frac))
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        rate = ""
        if self.rate_unit and elapsed > 0:
            rate = f" {self.rate_count / elapsed:,.0f} {self.rate_unit}/s"
        text = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        return (f"[{bar}] {self.done}/{self.total} {self.unit} {_fmt_time(elapsed)}<"
                f"{_fmt_time(eta)}{rate} {text}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
