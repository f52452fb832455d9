"""Character models: training steps against numpy min-char-rnn, models against numpy cells,
AdaGrad conventions, the one-compilation train loop, the divergence guard and bad input."""
import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import char_reference as ref
from char_common import TEXT, cli_args, tiny, write_text
from jaxrnn import losses, optim
from jaxrnn.cli import main as cli
from jaxrnn.tasks.char.loop import DivergenceError, ckpt_path, make_keys
from jaxrnn.tasks.char.model import ModelSpec, apply, init_params
from jaxrnn.tasks.char.step import Schedule, init_state, make_chunk_fn
from jaxrnn.io.checkpoint import load
from jaxrnn.data.text import build_vocab, make_streams
from jaxrnn.tasks.char import main as char

@pytest.fixture
def text_file(tmp_path):
    return str(write_text(tmp_path))


def _np_params(params):
    p = dict(params["layers"][0])
    p.update(params["readout"])
    return {k: np.array(v, np.float64) for k, v in p.items()}


@pytest.mark.parametrize("carry_state,eps_inside,reduce", [
    (False, False, "sum"),  # the min-char seed: zero state per window, eps outside the sqrt
    (True, True, "sum"),  # min-char-rnn: state carried, eps inside
    (True, False, "mean")])
@pytest.mark.parametrize("backward", ["scan", "fused"])
def test_train_steps_match_numpy_min_char_rnn(carry_state, eps_inside, reduce, backward):
    vocab = build_vocab(TEXT)
    ids = vocab.encode(TEXT)
    T, B, n_steps, lr = 6, 2, 7, 0.1
    streams = make_streams(ids, B, T)
    k = (streams.shape[1] - 1) // T
    spec = ModelSpec("rnn", vocab.size, 10, input_init="randn001",
                     recurrent_init="identity001", readout_init="randn001", dtype="float64",
                     backward=backward)
    opt = optim.make_optimizer("adagrad", lr, clip="value", clip_value=5.0, eps=1e-8,
                               eps_inside_sqrt=eps_inside)
    sched = Schedule("stream", T, B, 3, carry_state, reduce, 1e9, 0.999)
    params = init_params(jax.random.PRNGKey(1), spec)
    p = _np_params(params)
    mem = {n: np.zeros_like(v) for n, v in p.items()}
    h, total = np.zeros((B, 10)), 0.0
    for s in range(n_steps):  # numpy: 3 windows per epoch (sched), so the state resets twice
        w = s % 3
        xs, ys = streams[:, w * T:(w + 1) * T].T, streams[:, w * T + 1:(w + 1) * T + 1].T
        h0 = h if (carry_state and w) else np.zeros((B, 10))
        loss, g, h = ref.rnn_window(p, xs, ys, h0)
        if reduce == "mean":
            g = {n: v / (T * B) for n, v in g.items()}
        ref.adagrad(p, g, mem, lr, eps_inside_sqrt=eps_inside)
        total += loss / (T * B)
    assert k >= 3
    state = init_state(spec, params, opt, jax.random.PRNGKey(0), B)
    state, acc = jax.jit(make_chunk_fn(spec, opt, sched))(state, n_steps, jnp.asarray(streams))
    got = _np_params(state.params)
    for name in p:
        np.testing.assert_allclose(got[name], p[name], rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(float(acc.loss_sum), total, rtol=1e-12)
    assert int(acc.steps) == n_steps and int(acc.bad_step) == -1


def test_optax_chain_reproduces_hand_written_adagrad():
    """min-char-rnn: mem += g², p -= lr g / sqrt(mem + 1e-8), after clipping to ±5."""
    rng = np.random.default_rng(0)
    p = {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=(4,))}
    chains = [optax.chain(optax.clip(5.0), optax.adagrad(0.1, initial_accumulator_value=0.0,
                                                         eps=1e-8)),
              optim.make_optimizer("adagrad", 0.1, clip="value", clip_value=5.0, eps=1e-8,
                                   initial_accumulator=0.0, eps_inside_sqrt=True)]
    for opt in chains:
        params = jax.tree_util.tree_map(jnp.asarray, p)
        state, mine = opt.init(params), {k: v.copy() for k, v in p.items()}
        mem = {k: np.zeros_like(v) for k, v in p.items()}
        for step in range(5):
            g = {k: rng.normal(scale=4.0, size=v.shape) for k, v in p.items()}
            g["W"][0] = 0.0  # an element with no gradient yet: both give a zero update
            updates, state = opt.update(jax.tree_util.tree_map(jnp.asarray, g), state, params)
            params = optax.apply_updates(params, updates)
            want = ref.adagrad_updates(g, mem, 0.1, eps_inside_sqrt=True)
            for k in p:
                mine[k] += want[k]
                # the same maths in another order (rsqrt(a + eps) * g * -lr against
                # -lr * g / sqrt(a + eps)): equal up to a few ulp of each update
                np.testing.assert_allclose(np.asarray(updates[k]), want[k], rtol=1e-15, atol=0)
                np.testing.assert_allclose(np.asarray(params[k]), mine[k], rtol=1e-15, atol=1e-16)
            assert np.all(np.asarray(updates["W"][0]) == 0.0)


@pytest.mark.parametrize("cell,embed", [("lstm", 0), ("gru", 5)])
def test_stacked_model_logits_match_numpy(cell, embed):
    spec = ModelSpec(cell, 7, 6, layers=2, embed=embed, bias_init="uniform(0.3)",
                     dtype="float64")
    params = init_params(jax.random.PRNGKey(2), spec)
    ids = np.array([3, 0, 6, 6, 1, 2])
    run = jax.jit(apply, static_argnums=0)
    logits, _ = run(spec, params, jnp.asarray(ids), [None, None])
    want = ref.stack_logits(jax.tree_util.tree_map(np.asarray, params), ids, cell, 7)
    np.testing.assert_allclose(np.asarray(logits), want, rtol=1e-10, atol=1e-12)
    batched, _ = run(spec, params, jnp.asarray(np.stack([ids, ids[::-1]], 1)), [None, None])
    np.testing.assert_allclose(np.asarray(batched[:, 0]), want, rtol=1e-10, atol=1e-12)
    if cell == "lstm":
        assert np.all(np.asarray(params["layers"][0]["b_f"]) == 1.0)  # forget bias after init


def test_dropout_only_in_training():
    spec = ModelSpec("rnn", 7, 6, layers=2, dropout=0.5, input_init="uniform(0.5)",
                     recurrent_init="uniform(0.5)", dtype="float64")
    params = init_params(jax.random.PRNGKey(2), spec)
    ids = jnp.arange(5)
    run = jax.jit(apply, static_argnums=0, static_argnames="train")
    a, _ = run(spec, params, ids, [None, None], key=jax.random.PRNGKey(0), train=True)
    b, _ = run(spec, params, ids, [None, None], key=jax.random.PRNGKey(1), train=True)
    c, _ = run(spec, params, ids, [None, None])
    d, _ = run(spec, params, ids, [None, None], key=jax.random.PRNGKey(0))
    assert not np.allclose(a, b) and not np.allclose(a, c)
    np.testing.assert_array_equal(c, d)


def test_chunk_fn_traces_once():
    cfg = tiny()
    vocab = build_vocab(TEXT)
    spec = char.model_spec(cfg, vocab.size)
    streams = jnp.asarray(make_streams(vocab.encode(TEXT), cfg.batch, cfg.seq_len))
    sched = Schedule("stream", cfg.seq_len, cfg.batch, 4, True, "sum", 3.0, 0.999)
    opt = char.make_optimizer(cfg, 4)
    run = jax.jit(chex.assert_max_traces(make_chunk_fn(spec, opt, sched), n=1))
    state = init_state(spec, init_params(jax.random.PRNGKey(0), spec), opt,
                       jax.random.PRNGKey(1), cfg.batch)
    for stop in (3, 4, 11, 12):  # chunks of 3, 1, 7 and 1 steps
        state, acc = run(state, stop, streams)
    assert int(state.step) == 12


def test_run_writes_outputs_and_compiles_once(text_file, tmp_path, capsys):
    out = char.main(tiny(text=text_file), tmp_path / "run", quiet=True)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["train_step_compilations"] == 1
    assert summary["vocab_size"] == len(set(TEXT)) and np.isfinite(summary["val_loss"])
    for name in ("config.json", "vocab.json", "data.json", "metrics.csv", "samples.txt",
                 "loss.png", "checkpoints/latest.ckpt", "checkpoints/best.ckpt"):
        assert (out / name).is_file(), name
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"step", "train_loss", "smooth_loss", "val_loss", "chars_per_s"} <= set(header)
    assert json.loads((out / "vocab.json").read_text())["chars"] == "".join(sorted(set(TEXT)))
    assert "--- step 8" in (out / "samples.txt").read_text()


def test_cli_char_and_bad_input_exit_codes(text_file, tmp_path, capsys):
    assert cli.main(cli_args(text_file, tmp_path / "r", epochs=1)) == 0
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["status"] == "completed"
    assert cli.main(["char", "--corpus=nope", "--out", str(tmp_path / "x")]) == 2
    assert "unknown corpus 'nope'" in capsys.readouterr().err
    assert cli.main(cli_args(text_file, tmp_path / "r")) == 2  # exists: --resume or another --out
    assert "--resume" in capsys.readouterr().err


def test_old_window_flag_is_seq_len(text_file, tmp_path, capsys):
    """``--window`` (the sequence length before the rename) is accepted, with a message."""
    assert char.override(char.Config(), {"window": "7"}).seq_len == 7
    args = [a.replace("--seq_len=", "--window=") for a in cli_args(text_file, tmp_path / "r",
                                                                    epochs=1)]
    assert "--window=5" in args and cli.main(args) == 0
    assert "'window' is now 'seq_len'" in capsys.readouterr().err
    assert json.loads((tmp_path / "r" / "config.json").read_text())["config"]["seq_len"] == 5


def test_divergence_guard_keeps_last_good_checkpoint(text_file, tmp_path):
    cfg = tiny(text=text_file, learning_rate=1e4)
    with pytest.raises(DivergenceError, match=r"diverged at step \d+.*latest.ckpt \(step 0\)"):
        char.main(cfg, tmp_path / "run", quiet=True)
    arrays, meta = load(ckpt_path(tmp_path / "run", "latest"))
    assert meta["step"] == 0
    init = char.make_run(cfg, tmp_path / "unused").init(*make_keys(cfg.seed)[:2]).params
    assert np.all(np.isfinite(arrays["state/params/layers/0/W_xh"]))
    np.testing.assert_array_equal(arrays["state/params/layers/0/W_xh"],
                                  init["layers"][0]["W_xh"])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "diverged"


def test_nan_after_resume_overwrites_nothing(text_file, tmp_path, monkeypatch):
    cfg, out = tiny(text=text_file), tmp_path / "run"
    char.main(cfg, out, stop_at=8, quiet=True)
    before = {p.name: p.read_bytes() for p in (out / "checkpoints").iterdir()}
    metrics = (out / "metrics.csv").read_text()
    real = losses.softmax_cross_entropy
    monkeypatch.setattr(losses, "softmax_cross_entropy",
                        lambda *a, **k: real(*a, **k) * jnp.nan)
    char._jitted.cache_clear()  # retrace with the poisoned loss
    with pytest.raises(DivergenceError, match=r"step 9: loss nan.*latest.ckpt \(step 8\)"):
        char.main(cfg, out, resume=True, quiet=True)
    char._jitted.cache_clear()
    assert {p.name: p.read_bytes() for p in (out / "checkpoints").iterdir()} == before
    assert (out / "metrics.csv").read_text() == metrics


@pytest.mark.parametrize("content,match", [
    (b"", "is empty"),
    (b"abc\xff\xfedef", "not valid UTF-8: byte 0xff at offset 3"),
    ("short text".encode(), "shorter than one batch of windows")])
def test_bad_text_is_refused(tmp_path, content, match):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        char.main(tiny(text=str(path)), tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()


def test_bad_config_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown corpus 'shakespeare'"):
        tiny(corpus="shakespeare")
    with pytest.raises(ValueError, match="carry_state=false"):
        tiny(batching="random")
    with pytest.raises(ValueError, match="multiple of log_every"):
        tiny(eval_every=6)
    with pytest.raises(ValueError, match=r"sample_prime 'Q\?' contains 1 character\(s\) outside"):
        char.main(tiny(write_text(tmp_path), sample_prime="Q?"), tmp_path / "run", quiet=True)
    with pytest.raises(ValueError, match="stop-at"):
        char.main(tiny(text="unused"), "/nonexistent", stop_at=3)


def test_reproduce_section_runs_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXRNN_OFFLINE", "1")  # the stdlib corpus needs no network
    small = char.override(char.PRESETS["min-char"], {"hidden": 8, "max_chars": 2500,
                                                     "sample_length": 20})
    monkeypatch.setitem(char.PRESETS, "min-char", small)  # the same code path, 10x less work
    text = char.reproduce_section(tmp_path, quick=True)
    summary = json.loads((tmp_path / "char-min-char-stdlib-5ep" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 5
    assert f"| {summary['smooth_loss']:.3f} | {summary['val_loss']:.3f} |" in text
    assert summary["val_loss"] < np.log(summary["vocab_size"])  # learned something
    again = char.reproduce_section(tmp_path, quick=True)  # rerun: resumes the finished run
    assert again.split("|")[:4] == text.split("|")[:4]  # same losses (timings may differ)


def test_fused_backward_is_for_the_rnn_only():
    with pytest.raises(ValueError, match="backward='fused' is for cell='rnn' only"):
        char.Config(cell="lstm", backward="fused").validate()
