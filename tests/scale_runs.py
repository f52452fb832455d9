"""Runs tiny character models on 1, 2 and 4 devices of one process (a subprocess of
``test_scale.py``, started with ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` set
before jax is imported): ``python tests/scale_runs.py OUT``.

Writes under OUT: ``full-{1,2,4}`` (uninterrupted runs), ``stop-4`` (stopped at half on 4
devices) and its copies ``resume-{1,2,4}`` resumed on 1, 2 and 4 devices.
"""
import shutil
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

from char_common import write_text, tiny  # noqa: E402  (after x64 is on)
from jaxrnn.tasks.char import main as char  # noqa: E402

RUN_CHANGES = dict(cell="gru", layers=1, batch=4, epochs=2, log_every=2, eval_every=4,
                   sample_length=8, dtype="float64")  # on tiny(); test_scale's loopback too


def main(out: Path) -> None:
    cfg = tiny(write_text(out), **RUN_CHANGES)
    k = char.steps_per_epoch(cfg, len(char.load_data(cfg).train))
    half = (k // cfg.log_every) * cfg.log_every
    for n in (1, 2, 4):
        t = time.perf_counter()
        char.main(cfg, out / f"full-{n}", devices=n, quiet=True)
        print(f"full-{n}: {time.perf_counter() - t:.1f} s", flush=True)
    char.main(cfg, out / "stop-4", devices=4, stop_at=half, quiet=True)
    for n in (1, 2, 4):
        shutil.copytree(out / "stop-4", out / f"resume-{n}")
        char.main(cfg, out / f"resume-{n}", devices=n, resume=True, quiet=True)
    print(f"steps {2 * k}, stopped at {half}", flush=True)
    try:
        char.make_run(tiny(out / "tiny.txt", **{**RUN_CHANGES, "batch": 6}), out / "x", 4)
    except ValueError as e:
        (out / "refused.txt").write_text(str(e))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
