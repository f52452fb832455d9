"""Data-parallel character training (``jaxrnn.scale``, ``tasks/char/parallel``): 1, 2 and 4
devices give the same run, checkpoints move between device counts, and two processes on
loopback train the same model as one.

Several devices need ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` before jax is
imported, so the runs happen in subprocesses (``scale_runs.py``; one module-scoped fixture,
one compilation per device count) and these tests compare the files they wrote.

Tolerance: float64, relative 1e-12. With B split over N devices the loss and the gradient are
sums of N partial sums reduced by XLA's all-reduce, so they differ from the one-device sums in
the order of the additions only (measured: at most a few ulps per step, ~1e-15); 1e-12 leaves
room for that rounding to compound over the run's 34 steps, while a stream trained on the wrong
device, a carry handed to another stream, or a gradient averaged instead of summed over the
devices moves the numbers by 1e-4 or more.
"""
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from char_common import cli_args
from scale_runs import RUN_CHANGES
from jaxrnn.io import checkpoint, runs
from jaxrnn.scale import mesh as meshes

TESTS = Path(__file__).parent
REPO = TESTS.parent
RTOL = 1e-12
COLUMNS = ("train_loss", "smooth_loss", "grad_norm")


def _env(devices: int) -> dict:
    path = os.pathsep.join([str(REPO), str(TESTS), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
            "JAX_PLATFORMS": "cpu", "JAXRNN_CACHE_DIR": "off", "PYTHONPATH": path}


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("scale")
    done = subprocess.run([sys.executable, str(TESTS / "scale_runs.py"), str(out)], env=_env(4),
                          cwd=TESTS, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _metrics(run: Path) -> dict:
    rows = runs.read_csv(run / "metrics.csv")
    out = {c: np.array([r[c] for r in rows], float) for c in COLUMNS}
    out["val_loss"] = np.array([r["val_loss"] for r in rows if r["val_loss"] != ""], float)
    out["step"] = np.array([r["step"] for r in rows])
    return out


def _state(run: Path) -> dict:
    arrays, meta = checkpoint.load(run / "checkpoints" / "latest.ckpt")
    return arrays


def _assert_same_run(a: Path, b: Path, rtol: float = RTOL) -> None:
    ma, mb = _metrics(a), _metrics(b)
    np.testing.assert_array_equal(ma["step"], mb["step"])
    for column in (*COLUMNS, "val_loss"):
        np.testing.assert_allclose(mb[column], ma[column], rtol=rtol, atol=0, err_msg=column)
    sa, sb = _state(a), _state(b)
    assert sa.keys() == sb.keys()
    for name in sa:  # params, optimiser state, per-stream carries (B, H), key, step
        np.testing.assert_allclose(sb[name], sa[name], rtol=rtol, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("devices", [2, 4])
def test_losses_and_state_do_not_depend_on_device_count(runs_dir, devices):
    one, many = runs_dir / "full-1", runs_dir / f"full-{devices}"
    assert runs.read_json(many / "summary.json")["devices"] == devices
    assert runs.read_json(one / "summary.json")["devices"] == 1
    _assert_same_run(one, many)


def test_carried_state_stays_with_its_stream(runs_dir):
    """Row b of every carry (stream b's hidden state) matches the one-device run's row b, and
    the streams' states differ from each other (a swap of rows would be seen)."""
    one, four = _state(runs_dir / "full-1"), _state(runs_dir / "full-4")
    carries = [n for n in one if n.startswith("state/carries/")]
    assert carries
    for name in carries:
        h1, h4 = one[name], four[name]  # (B, H)
        assert h1.shape[0] == 4
        assert min(np.abs(h1[i] - h1[j]).max() for i in range(4) for j in range(i)) > 1e-3
        np.testing.assert_allclose(h4, h1, rtol=RTOL, atol=1e-14)


@pytest.mark.parametrize("devices", [1, 2, 4])
def test_checkpoint_saved_on_4_devices_resumes_on_any_count(runs_dir, devices):
    """Stopped at half on 4 devices, resumed on 1, 2, 4: the run goes on as the uninterrupted
    run on that count (bitwise on 4; on 1 and 2 within the device-count rounding, since its
    first half ran on 4)."""
    resumed, full = runs_dir / f"resume-{devices}", runs_dir / f"full-{devices}"
    assert runs.read_json(resumed / "summary.json")["devices"] == devices
    _assert_same_run(full, resumed, rtol=0 if devices == 4 else RTOL)


def test_indivisible_batch_is_refused_naming_both_numbers(runs_dir):
    message = (runs_dir / "refused.txt").read_text()
    assert "batch 6" in message and "4 devices" in message and "--devices=3" in message
    with pytest.raises(ValueError, match=r"batch 5 does not divide over 2 devices"):
        meshes.check_batch(5, 2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_on_loopback_train_the_single_process_run(runs_dir, tmp_path):
    """``jaxrnn char --distributed``: 2 processes x 2 devices on 127.0.0.1 give the losses and
    state of the one-process 4-device run; process 0 alone writes, both log their index."""
    out, port = tmp_path / "two", _free_port()
    args = [a for a in cli_args(runs_dir / "tiny.txt", out, **{**RUN_CHANGES, "smooth_decay":
                                                               0.999}) if a != "--quiet"]
    procs = [subprocess.Popen(
        [sys.executable, "-m", "jaxrnn.cli", *args, "--devices", "2", "--distributed",
         "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i)],
        env=_env(2), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in (0, 1)]
    logs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    assert "[process 0/2] char: completed" in logs[0] and f"wrote {out}" in logs[0]
    assert "[process 1/2] char: completed" in logs[1] and "process 0 wrote" in logs[1]
    assert runs.read_json(out / "summary.json")["devices"] == 4
    _assert_same_run(runs_dir / "full-4", out)



def test_typed_prng_keys_round_trip_through_a_checkpoint(tmp_path):
    """A typed key (``jax.random.key``) is stored as its key data and comes back typed, with its
    implementation, drawing the same numbers; a raw uint32 key stays raw."""
    import jax

    tree = {"key": jax.random.key(7, impl="rbg"), "keys": jax.random.split(jax.random.key(1), 3),
            "raw": jax.random.PRNGKey(2)}
    path = checkpoint.save(tmp_path / "k.ckpt", tree, {})
    arrays, _ = checkpoint.load(path)
    assert arrays["key"].dtype == np.uint32 and arrays["keys"].shape == (3, 2)
    template = {"key": jax.random.key(0, impl="rbg"),
                "keys": jax.random.split(jax.random.key(0), 3), "raw": jax.random.PRNGKey(0)}
    back = checkpoint.restore(template, arrays)
    assert jax.random.key_impl(back["key"]) == jax.random.key_impl(tree["key"])
    for name in ("key", "keys"):
        np.testing.assert_array_equal(jax.random.key_data(back[name]),
                                      jax.random.key_data(tree[name]))
    np.testing.assert_array_equal(jax.random.uniform(back["keys"][1], (4,)),
                                  jax.random.uniform(tree["keys"][1], (4,)))
    np.testing.assert_array_equal(back["raw"], tree["raw"])
    assert back["raw"].dtype == np.uint32
