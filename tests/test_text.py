"""Text data: vocabulary, encode/decode, reading, splits, streams and random windows."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrnn.data.text import (build_vocab, eval_windows, make_streams, random_windows,
                              read_text, split_ids, stream_window, windows_per_stream)

TEXT = "Wherefore art thou, Roméo?\n— ¿Qué? 日本\n" * 5


def test_vocab_round_trip_with_non_ascii():
    vocab = build_vocab(TEXT)
    assert vocab.chars == "".join(sorted(set(TEXT))) and vocab.size == len(set(TEXT))
    ids = vocab.encode(TEXT)
    assert ids.dtype == np.int32 and ids.shape == (len(TEXT),)
    assert [vocab.chars[i] for i in ids] == list(TEXT)
    assert vocab.decode(ids) == TEXT and vocab.decode(jnp.asarray(ids)) == TEXT


def test_vocab_errors():
    vocab = build_vocab("abc")
    with pytest.raises(ValueError, match=r"2 character\(s\) outside .* 'x' \(U\+0078\), "
                                         r"'é' \(U\+00E9\)"):
        vocab.encode("abxé")
    with pytest.raises(ValueError, match=r"ids must be in \[0, 3\)"):
        vocab.decode([0, 3])
    with pytest.raises(ValueError, match="empty"):
        build_vocab("")


def test_read_text(tmp_path):
    good = tmp_path / "good.txt"
    good.write_bytes(TEXT.encode("utf-8"))
    assert read_text(good) == TEXT
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.txt is empty"):
        read_text(tmp_path / "empty.txt")
    (tmp_path / "latin1.txt").write_bytes("café au lait".encode("latin-1"))
    with pytest.raises(ValueError, match=r"not valid UTF-8: byte 0xe9 at offset 3.*iconv"):
        read_text(tmp_path / "latin1.txt")
    with pytest.raises(FileNotFoundError, match="--text PATH"):
        read_text(tmp_path / "missing.txt")


def test_split_is_contiguous():
    ids = np.arange(1000)
    train, val, test = split_ids(ids, 0.05, 0.1)
    assert (len(train), len(val), len(test)) == (850, 50, 100)
    np.testing.assert_array_equal(np.concatenate([train, val, test]), ids)
    train, val, test = split_ids(ids, 0.05)
    assert (len(train), len(val), len(test)) == (950, 50, 0)
    with pytest.raises(ValueError, match="val_fraction must be in"):
        split_ids(ids, 1.5)
    with pytest.raises(ValueError, match="must be < 1"):
        split_ids(ids, 0.5, 0.5)


def test_streams_are_consecutive_windows_of_the_text():
    ids = np.arange(103) * 7  # any distinct values: positions are recoverable
    B, T = 3, 4
    streams = make_streams(ids, B, T)
    k = windows_per_stream(103, B, T)
    assert k == (103 - 1) // (B * T) == 8 and streams.shape == (B, k * T + 1)
    w_jit = jax.jit(stream_window, static_argnums=2)
    for w in range(k):
        xs, ys = w_jit(jnp.asarray(streams), w, T)
        for b in range(B):
            start = b * k * T + w * T  # stream b starts at b k T; window w at w T within it
            np.testing.assert_array_equal(xs[:, b], ids[start:start + T])
            np.testing.assert_array_equal(ys[:, b], ids[start + 1:start + T + 1])
    with pytest.raises(ValueError, match=r"shorter than one batch of windows: batch 3 x window "
                                         r"40 \+ 1 = 121"):
        make_streams(ids, 3, 40)


def test_random_windows_are_substrings():
    ids = np.arange(50) * 3
    xs, ys = jax.jit(random_windows, static_argnums=(2, 3))(jax.random.PRNGKey(0),
                                                           jnp.asarray(ids), 16, 7)
    assert xs.shape == ys.shape == (7, 16)
    starts = np.asarray(xs[0]) // 3
    assert starts.min() >= 0 and starts.max() <= 50 - 8 and len(set(starts.tolist())) > 1
    for b, s in enumerate(starts):
        np.testing.assert_array_equal(xs[:, b], ids[s:s + 7])
        np.testing.assert_array_equal(ys[:, b], ids[s + 1:s + 8])
    with pytest.raises(ValueError, match="shorter than one window"):
        random_windows(jax.random.PRNGKey(0), jnp.arange(5), 2, 5)


def test_eval_windows_cover_the_text_and_shrink_the_batch():
    ids = np.arange(61)
    xs, ys = eval_windows(ids, 4, 5)  # (61 - 1) // 20 = 3 windows of 4 streams
    assert xs.shape == (3, 5, 4)
    np.testing.assert_array_equal(np.sort(xs.reshape(-1)), np.arange(60))
    np.testing.assert_array_equal(ys, xs + 1)
    xs, _ = eval_windows(np.arange(12), 50, 5)  # only 2 windows fit: 2 streams of 1 window
    assert xs.shape == (1, 5, 2)
    with pytest.raises(ValueError, match="validation text .* shorter"):
        eval_windows(np.arange(4), 2, 5)
