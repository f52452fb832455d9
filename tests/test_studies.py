"""The shipped char study names a corpus; offline, reproduce falls back and says so."""
from pathlib import Path

import pytest

from jaxrnn.sweep.spec import load_spec, quick_spec
from jaxrnn.sweep.studies import offline_corpus, study_path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"


@pytest.fixture
def no_local_copy(tmp_path, monkeypatch):
    monkeypatch.delenv("JAXRNN_TINYSHAKESPEARE", raising=False)
    monkeypatch.setenv("JAXRNN_CACHE", str(tmp_path / "empty-cache"))


def test_char_study_names_the_corpus_not_a_checkout_path():
    spec = load_spec(study_path("truncation-char"))
    assert spec.base["corpus"] == "tinyshakespeare" and "text" not in spec.base


def test_offline_fallback_is_stated(no_local_copy):
    spec, note = offline_corpus(quick_spec(load_spec(study_path("truncation-char"))))
    assert spec.base["corpus"] == "stdlib"
    assert "standard library" in note and "JAXRNN_TINYSHAKESPEARE" in note
    assert note in spec.description


def test_sine_study_untouched(no_local_copy):
    spec = load_spec(study_path("clipping"))
    assert offline_corpus(spec) == (spec, "")


@pytest.mark.skipif(not SHARED.is_file(), reason="no local tiny-shakespeare copy")
def test_local_copy_is_used(no_local_copy, monkeypatch):
    monkeypatch.setenv("JAXRNN_TINYSHAKESPEARE", str(SHARED))
    spec = load_spec(study_path("truncation-char"))
    assert offline_corpus(spec) == (spec, "")


def test_sweep_command_takes_a_shipped_study_by_name(tmp_path, monkeypatch):
    from jaxrnn.cli.sweep import spec_file

    monkeypatch.chdir(tmp_path)
    assert spec_file("clipping") == study_path("clipping")
    assert spec_file("mine.json") == Path("mine.json")
    (tmp_path / "clipping").mkdir()  # a path that exists wins over the name
    assert spec_file("clipping") == Path("clipping")
