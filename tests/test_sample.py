"""Sampling: greedy decoding against a numpy loop, top-k and temperature, errors, the CLI."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import char_reference as ref
from char_common import TEXT, tiny, write_text
from jaxrnn.cli import main as cli
from jaxrnn.io import checkpoint
from jaxrnn.tasks.char.loop import ckpt_path
from jaxrnn.tasks.char.model import ModelSpec, init_params
from jaxrnn.data.text import build_vocab
from jaxrnn.tasks.char.sample import choose, sample_ids, sample_text
from jaxrnn.tasks.char import main as char

SPEC = ModelSpec("lstm", 6, 5, layers=2, input_init="normal(0.8)", recurrent_init="normal(0.8)",
                 readout_init="normal(2.0)", dtype="float64")


def test_argmax_sampling_matches_numpy_greedy_loop():
    params = init_params(jax.random.PRNGKey(4), SPEC)
    prime = [1, 4, 2]
    got = np.asarray(sample_ids(SPEC, params, jnp.asarray(prime), jax.random.PRNGKey(0),
                                length=12, argmax=True))
    np_params = jax.tree_util.tree_map(np.asarray, params)
    seq = list(prime)
    for _ in range(12):  # re-running the whole sequence from zero state each time
        seq.append(int(np.argmax(ref.stack_logits(np_params, seq, "lstm", 6)[-1])))
    assert got.tolist() == seq[3:]
    assert len(set(got.tolist())) > 1  # a non-trivial continuation


def test_top_k_and_temperature():
    logits = jnp.log(jnp.array([0.05, 0.4, 0.1, 0.3, 0.15]))
    keys = jax.random.split(jax.random.PRNGKey(0), 4000)
    draw = jax.vmap(lambda k, t, top: choose(k, logits, t, top_k=top), (0, None, None))
    top2 = np.asarray(jax.jit(draw, static_argnums=2)(keys, 1.0, 2))
    assert set(top2.tolist()) == {1, 3}
    np.testing.assert_allclose(np.mean(top2 == 1), 0.4 / 0.7, atol=0.03)  # renormalised, ~4 sd
    full = np.bincount(np.asarray(jax.jit(draw, static_argnums=2)(keys, 1.0, 0)), minlength=5)
    np.testing.assert_allclose(full / 4000, [0.05, 0.4, 0.1, 0.3, 0.15], atol=0.03)
    cold = np.asarray(jax.jit(draw, static_argnums=2)(keys, 0.05, 0))
    assert np.mean(cold == 1) > 0.99  # low temperature -> nearly greedy
    assert int(choose(keys[0], logits, 1.0, top_k=1)) == 1 == int(choose(keys[0], logits, 1.0,
                                                                         argmax=True))


def test_sampling_is_one_compiled_scan():
    params = init_params(jax.random.PRNGKey(4), SPEC)
    jaxpr = str(jax.make_jaxpr(lambda p, k: sample_ids(SPEC, p, jnp.array([1, 2]), k,
                                                       length=50))(params,
                                                                   jax.random.PRNGKey(0)))
    assert "scan" in jaxpr and "length=50" in jaxpr
    a = sample_ids(SPEC, params, jnp.array([1, 2]), jax.random.PRNGKey(0), 0.7, length=9)
    b = sample_ids(SPEC, params, jnp.array([1, 2]), jax.random.PRNGKey(0), 0.7, length=9)
    c = sample_ids(SPEC, params, jnp.array([1, 2]), jax.random.PRNGKey(1), 0.7, length=9)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_bad_sampling_input_is_refused():
    vocab = build_vocab("abcdef")
    params = init_params(jax.random.PRNGKey(4), SPEC)
    key = jax.random.PRNGKey(0)
    with pytest.raises(ValueError, match=r"outside the model's vocabulary: 'é' \(U\+00E9\)"):
        sample_text(SPEC, params, vocab, "abé", key)
    with pytest.raises(ValueError, match="prime must be at least one character"):
        sample_text(SPEC, params, vocab, "", key)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sample_text(SPEC, params, vocab, "ab", key, temperature=0.0)
    with pytest.raises(ValueError, match=r"top_k must be in \[0, V=6\]"):
        sample_text(SPEC, params, vocab, "ab", key, top_k=7)


def test_sample_cli(tmp_path, capsys):
    out = char.main(tiny(write_text(tmp_path)), tmp_path / "run", quiet=True)
    capsys.readouterr()
    args = ["sample", "--run", str(out), "--prime", "Speak", "--length", "30", "--seed", "3"]
    assert cli.main(args + ["--argmax"]) == 0
    greedy = capsys.readouterr().out
    assert greedy.startswith("Speak") and len(greedy[:-1]) == 35
    assert cli.main(args + ["--temperature", "0.8", "--top-k", "3"]) == 0
    drawn = capsys.readouterr().out[:-1]
    vocab = build_vocab(write_text(tmp_path).read_text())
    assert drawn.startswith("Speak") and len(drawn) == 35 and set(drawn) <= set(vocab.chars)
    assert cli.main(args[:5] + ["--prime", "QX"]) == 2
    assert "outside the model's vocabulary: 'Q' (U+0051), 'X' (U+0058)" in capsys.readouterr().err
    assert cli.main(["sample", "--run", str(tmp_path / "nothing")]) == 2


def _controlled(run, path, bias):
    """Writes to ``path`` the run's latest checkpoint with readout W_hy = 0 and b_y = ``bias``:
    the next-character distribution is softmax(bias) whatever the state."""
    arrays, meta = checkpoint.load(ckpt_path(run, "latest"))
    w = arrays["state/params/readout/W_hy"]
    arrays["state/params/readout/W_hy"] = np.zeros_like(w)
    arrays["state/params/readout/b_y"] = np.asarray(bias, w.dtype)
    checkpoint.save(path, arrays, meta)


def test_sample_cli_top_k_and_checkpoint_choice(tmp_path, capsys):
    run = char.main(tiny(write_text(tmp_path)), tmp_path / "run", quiet=True)
    chars = build_vocab(TEXT).chars
    top = [chars.index(c) for c in "aeo"]
    bias = np.zeros(len(chars))
    bias[top] = 1.0  # the three most likely; the rest keep about 3/4 of the mass
    _controlled(run, tmp_path / "controlled.ckpt", bias)
    args = ["sample", "--run", str(run), "--prime", "S", "--length", "300", "--seed", "1",
            "--checkpoint", str(tmp_path / "controlled.ckpt")]
    capsys.readouterr()
    assert cli.main(args + ["--top-k", "3"]) == 0
    assert set(capsys.readouterr().out[1:-1]) == set("aeo")
    assert cli.main(args) == 0  # without top-k the other characters are drawn too
    assert len(set(capsys.readouterr().out[1:-1]) - set("aeo")) > 5
    for which, char_ in (("best", "k"), ("latest", "m")):
        bias = np.zeros(len(chars))
        bias[chars.index(char_)] = 5.0
        _controlled(run, ckpt_path(run, which), bias)
    for which, char_ in (("best", "k"), ("latest", "m")):
        assert cli.main(["sample", "--run", str(run), "--prime", "S", "--length", "7",
                         "--argmax", "--checkpoint", which]) == 0
        assert capsys.readouterr().out == "S" + char_ * 7 + "\n", which


def test_sample_cli_refuses_a_checkpoint_of_another_dtype(tmp_path, capsys):
    """The run is float32; a float64 copy of its checkpoint (a dtype change) is refused."""
    run = char.main(tiny(write_text(tmp_path)), tmp_path / "run", quiet=True)
    arrays, meta = checkpoint.load(ckpt_path(run, "latest"))
    wide = {k: v.astype(np.float64) if v.dtype == np.float32 else v for k, v in arrays.items()}
    checkpoint.save(tmp_path / "wide.ckpt", wide, meta)
    capsys.readouterr()
    assert cli.main(["sample", "--run", str(run), "--checkpoint", str(tmp_path / "wide.ckpt")]) == 2
    assert "float64[8, 8] where the model has float32[8, 8]" in capsys.readouterr().err


def test_sample_reads_a_run_saved_before_the_seq_len_rename_silently(tmp_path, capsys):
    """A run whose config.json says ``window`` samples the same text, with no rename message
    (the user passed no --window)."""
    import json

    out = char.main(tiny(write_text(tmp_path)), tmp_path / "run", quiet=True)
    args = ["sample", "--run", str(out), "--prime", "Speak", "--length", "20", "--argmax"]
    capsys.readouterr()
    assert cli.main(args) == 0
    new = capsys.readouterr().out
    saved = json.loads((out / "config.json").read_text())
    saved["config"]["window"] = saved["config"].pop("seq_len")
    (out / "config.json").write_text(json.dumps(saved))
    assert cli.main(args) == 0
    got = capsys.readouterr()
    assert got.out == new and "is now 'seq_len'" not in got.err
