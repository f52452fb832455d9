"""Checkpoints: bitwise round trips, atomic writes, refusals, and resume == uninterrupted."""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from char_common import TEXT, write_text
from jaxrnn import optim
from jaxrnn.io import checkpoint
from jaxrnn.io import runs
from jaxrnn.io.progress import Progress
from jaxrnn.tasks.char.loop import TIMING, ckpt_path
from jaxrnn.io.config import override
from jaxrnn.tasks.char import main as char



def _tree(key):
    params = {"layers": [{"W": jax.random.normal(key, (3, 2))}],
              "readout": {"b": jnp.arange(3.0, dtype=jnp.float32)}}
    opt = optim.make_optimizer("adam", 1e-3, clip="value", clip_value=1.0)
    return {"params": params, "opt": opt.init(params), "key": key,
            "step": jnp.asarray(7, jnp.int32)}


def test_round_trip_is_bitwise_and_leaves_no_temp_files(tmp_path, key):
    tree = _tree(key)
    path = checkpoint.save(tmp_path / "c" / "x.ckpt", tree, {"note": "hi", "vocab": "ab\n"})
    arrays, meta = checkpoint.load(path)
    assert meta["note"] == "hi" and meta["vocab"] == "ab\n" and meta["format"] == 1
    back = checkpoint.restore(_tree(jax.random.PRNGKey(9)), arrays)
    for a, b in zip(jax.tree_util.tree_leaves(tree), jax.tree_util.tree_leaves(back)):
        assert a.dtype == b.dtype and np.array_equal(np.asarray(a), np.asarray(b))
    assert jax.tree_util.tree_structure(back) == jax.tree_util.tree_structure(tree)
    assert os.listdir(tmp_path / "c") == ["x.ckpt"]


def test_restore_refuses_another_model(tmp_path, key):
    arrays, _ = checkpoint.load(checkpoint.save(tmp_path / "x.ckpt", _tree(key), {}))
    other = _tree(key)
    other["params"]["layers"][0]["W"] = jnp.zeros((4, 2))
    other["params"]["extra"] = jnp.zeros(2)
    with pytest.raises(ValueError, match=r"missing params/extra.*params/layers/0/W: "
                                         r"float64\[3, 2\] where the model has float64\[4, 2\]"):
        checkpoint.restore(other, arrays)


def test_float32_checkpoint_is_refused_by_a_float64_model(tmp_path, key):
    """``restore`` documents a refusal on another dtype (no silent cast): every float leaf of a
    float32 save is named with both dtypes when restored into the same tree in float64."""
    tree = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32)
                                  if jnp.issubdtype(a.dtype, jnp.floating) else a, _tree(key))
    arrays, _ = checkpoint.load(checkpoint.save(tmp_path / "x.ckpt", tree, {}))
    template = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64)
                                      if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)
    with pytest.raises(ValueError, match=r"params/layers/0/W: float32\[3, 2\] where the model "
                                         r"has float64\[3, 2\]"):
        checkpoint.restore(template, arrays)
    back = checkpoint.restore(tree, arrays)  # the same arrays restore into the float32 model
    assert back["params"]["readout"]["b"].dtype == jnp.float32


def test_check_meta_and_unreadable_files(tmp_path):
    with pytest.raises(ValueError, match="vocab: checkpoint has 'ab', this run has 'abc'"):
        checkpoint.check_meta({"vocab": "ab"}, {"vocab": "abc"}, source="ckpt")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        checkpoint.load(tmp_path / "none.ckpt")
    (tmp_path / "bad.ckpt").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable jaxrnn checkpoint"):
        checkpoint.load(tmp_path / "bad.ckpt")


def test_crash_mid_write_keeps_the_previous_checkpoint(tmp_path, key, monkeypatch):
    path = checkpoint.save(tmp_path / "x.ckpt", _tree(key), {"v": 1})
    before = path.read_bytes()

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(runs.os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, _tree(jax.random.PRNGKey(5)), {"v": 2})
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["x.ckpt"]


def _cfg(text_file, **changes):
    base = dict(text=str(text_file), cell="gru", hidden=6, layers=2, embed=4, dropout=0.25,
                seq_len=6, batch=3, epochs=3, val_fraction=0.2, optimizer="adam",
                learning_rate=3e-3, lr_decay=0.9, lr_decay_after=2, clip="global_norm",
                log_every=3, eval_every=6, sample_length=8, seed=1)
    return override(char.Config(), {**base, **changes})


def _final(out):
    arrays, meta = checkpoint.load(ckpt_path(out, "latest"))
    rows = runs.read_csv(out / "metrics.csv")
    rows = [{k: v for k, v in r.items() if k not in TIMING} for r in rows]
    return arrays, meta, rows


@pytest.mark.parametrize("changes", [{}, {"batching": "random", "carry_state": False}])
def test_resumed_run_is_bitwise_the_uninterrupted_run(tmp_path, changes):
    cfg = _cfg(write_text(tmp_path), **changes)
    whole = char.main(cfg, tmp_path / "whole", quiet=True)
    part = char.main(cfg, tmp_path / "part", stop_at=9, quiet=True)  # mid-epoch, mid-eval
    assert json.loads((part / "summary.json").read_text())["status"] == "stopped"
    char.main(cfg, part, resume=True, quiet=True)
    (a1, m1, r1), (a2, m2, r2) = _final(whole), _final(part)
    assert m1["step"] == m2["step"] > 9 and r1[-1]["step"] == m1["step"]
    assert a1.keys() == a2.keys()
    for name in a1:
        assert np.array_equal(a1[name], a2[name]), name
    assert r1 == r2 and m1["samples"] == m2["samples"] and m1["best_step"] == m2["best_step"]


@pytest.mark.parametrize("where", ["chunk", "callback"])
def test_interrupted_run_resumes_bitwise(tmp_path, monkeypatch, where):
    """Ctrl-C in a chunk drops it; Ctrl-C in the callback after its row keeps it. Either way
    the latest checkpoint holds the last logged state and a resume equals the whole run."""
    cfg = _cfg(write_text(tmp_path))
    whole = char.main(cfg, tmp_path / "whole", quiet=True)
    real_update, real_jitted = Progress.update, char.jitted

    def update(bar, done, **kwargs):  # the callback's last call: after the row and outputs
        real_update(bar, done, **kwargs)
        if where == "callback" and done == 9:
            raise KeyboardInterrupt

    def jitted(*args):  # a run_chunk that is interrupted on its way to step 9
        optimizer, init, run_chunk, evaluate = real_jitted(*args)

        def interrupted(state, stop, data):
            if stop == 9:
                raise KeyboardInterrupt
            return run_chunk(state, stop, data)

        interrupted._cache_size = run_chunk._cache_size
        return optimizer, init, interrupted if where == "chunk" else run_chunk, evaluate

    monkeypatch.setattr(Progress, "update", update)
    monkeypatch.setattr(char, "jitted", jitted)
    part = char.main(cfg, tmp_path / "part", quiet=True)
    assert json.loads((part / "summary.json").read_text())["status"] == "interrupted"
    assert checkpoint.load(ckpt_path(part, "latest"))[1]["step"] == (9 if where == "callback"
                                                                     else 6)
    monkeypatch.undo()
    char.main(cfg, part, resume=True, quiet=True)
    (a1, m1, r1), (a2, m2, r2) = _final(whole), _final(part)
    for name in a1:
        assert np.array_equal(a1[name], a2[name]), name
    assert r1 == r2 and m1["samples"] == m2["samples"] and m1["best_step"] == m2["best_step"]


def test_resume_refuses_another_vocabulary_or_config(tmp_path):
    path = write_text(tmp_path)
    cfg = _cfg(path)  # the config of the first resume test: its compilation is reused
    out = char.main(cfg, tmp_path / "run", stop_at=3, quiet=True)
    path.write_text(TEXT + "Zz")
    with pytest.raises(ValueError, match="refused.*vocab"):
        char.main(cfg, out, resume=True, quiet=True)
    path.write_text(TEXT)
    with pytest.raises(ValueError, match="refused.*hidden: checkpoint has 6, this run has 7"):
        char.main(override(cfg, {"hidden": 7}), out, resume=True, quiet=True)
    with pytest.raises(ValueError, match="refused.*dtype: checkpoint has 'float32', this run has "
                                         "'float64'"):
        char.main(override(cfg, {"dtype": "float64"}), out, resume=True, quiet=True)
    with pytest.raises(FileExistsError, match="--resume"):
        char.main(cfg, out, quiet=True)
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        char.main(cfg, tmp_path / "empty", resume=True, quiet=True)


def test_resume_maps_a_checkpoint_from_before_the_seq_len_rename(tmp_path):
    """A checkpoint whose stored config names the sequence length ``window`` still resumes."""
    cfg = _cfg(write_text(tmp_path))  # the resume tests' config: its compilation is reused
    out = char.main(cfg, tmp_path / "run", stop_at=3, quiet=True)
    path = ckpt_path(out, "latest")
    arrays, meta = checkpoint.load(path)
    meta["config"]["window"] = meta["config"].pop("seq_len")
    checkpoint.save(path, arrays, meta)
    char.main(cfg, out, resume=True, quiet=True)
    assert json.loads((out / "summary.json").read_text())["status"] == "completed"
