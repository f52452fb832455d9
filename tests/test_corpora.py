"""Corpora: download-and-verify against a local HTTP server, cache reuse, local copies, offline."""
import functools
import hashlib
import http.server
import os
import threading
from pathlib import Path

import pytest

from jaxrnn.data import corpora

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"
BODY = "To be, or not to be, that is the question:\n".encode() * 50


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/www, stopped after the test."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("JAXRNN_TINYSHAKESPEARE", "JAXRNN_OFFLINE", "JAXRNN_CACHE"):
        monkeypatch.delenv(name, raising=False)


def _remote(url, body=BODY, env="JAXRNN_TEST_CORPUS"):
    return corpora.RemoteFile(url, "corpus.txt", len(body), hashlib.sha256(body).hexdigest(),
                              env)


def test_download_verifies_caches_and_reuses(server, tmp_path):
    root, url = server
    (root / "input.txt").write_bytes(BODY)
    cache = tmp_path / "cache"
    remote = _remote(f"{url}/input.txt")
    path = corpora.fetch(remote, cache=cache, timeout=5)
    assert path == cache / "corpus.txt" and path.read_bytes() == BODY
    (root / "input.txt").unlink()  # no longer served: the second fetch must use the cache
    assert corpora.fetch(remote, cache=cache, timeout=5) == path
    assert os.listdir(cache) == ["corpus.txt"]


@pytest.mark.parametrize("served", [BODY[:-1] + b"?", BODY + b"extra", BODY[:100]])
def test_corrupt_download_leaves_nothing_in_the_cache(server, tmp_path, served):
    root, url = server
    (root / "input.txt").write_bytes(served)
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="is corrupt: expected 2150 bytes.*nothing was cached"):
        corpora.fetch(_remote(f"{url}/input.txt"), cache=cache, timeout=5)
    assert os.listdir(cache) == []


def test_unreachable_or_offline_names_both_ways_out(server, tmp_path, monkeypatch):
    _, url = server
    remote = _remote(f"{url}/missing.txt")  # 404
    with pytest.raises(FileNotFoundError, match=r"could not download.*404.*network.*"
                                                r"\$JAXRNN_TEST_CORPUS"):
        corpora.fetch(remote, cache=tmp_path / "c", timeout=5)
    monkeypatch.setenv("JAXRNN_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match=r"OFFLINE.*connect to the network.*"
                                                r"\$JAXRNN_TEST_CORPUS.*--corpus=stdlib"):
        corpora.fetch(remote, cache=tmp_path / "c", timeout=5)
    assert not (tmp_path / "c").exists() or os.listdir(tmp_path / "c") == []


def test_local_copy_and_cached_file_are_verified(tmp_path, monkeypatch):
    remote = _remote("http://127.0.0.1:9/never-used")
    copy = tmp_path / "copy.txt"
    copy.write_bytes(BODY)
    monkeypatch.setenv("JAXRNN_TEST_CORPUS", str(copy))
    assert corpora.fetch(remote, cache=tmp_path / "c") == copy
    copy.write_bytes(BODY + b"!")
    with pytest.raises(ValueError, match=r"\$JAXRNN_TEST_CORPUS .* is not corpus.txt"):
        corpora.fetch(remote, cache=tmp_path / "c")
    monkeypatch.delenv("JAXRNN_TEST_CORPUS")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "corpus.txt").write_bytes(b"tampered")
    with pytest.raises(ValueError, match="cached file .* replace or delete it"):
        corpora.fetch(remote, cache=tmp_path / "c")


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert corpora.cache_dir() == tmp_path / "xdg" / "jaxrnn"
    monkeypatch.setenv("JAXRNN_CACHE", str(tmp_path / "mine"))
    assert corpora.cache_dir() == tmp_path / "mine"


def test_stdlib_corpus_is_offline_and_deterministic():
    text, info = corpora.load_corpus("stdlib")
    again, _ = corpora.load_corpus("stdlib")
    assert text == again and len(text) > 500_000 and "def " in text
    assert [Path(p).name for p in info["files"]] == sorted(Path(p).name for p in info["files"])
    with pytest.raises(ValueError, match="unknown corpus 'nope'.*--text PATH"):
        corpora.load_corpus("nope")


@pytest.mark.skipif(not SHARED.is_file(), reason="no local copy of tinyshakespeare")
def test_tinyshakespeare_from_a_local_copy(monkeypatch):
    monkeypatch.setenv("JAXRNN_TINYSHAKESPEARE", str(SHARED))
    text, info = corpora.load_corpus("tinyshakespeare")
    assert len(text.encode()) == 1_115_394 and text.startswith("First Citizen:")
    assert len(set(text)) == 65 and info["path"] == str(SHARED)
