"""jaxrnn.io.malloc: the malloc setting applies on glibc and honours its opt-out."""
import platform
import sys

import pytest

from jaxrnn.io import malloc

on_glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def test_opt_out_does_nothing(monkeypatch):
    monkeypatch.setenv(malloc.ENV, "default")
    assert malloc.keep_freed_memory() is False


@pytest.mark.skipif(not on_glibc, reason="the setting exists on glibc only")
def test_applies_on_glibc(monkeypatch):
    monkeypatch.delenv(malloc.ENV, raising=False)
    assert malloc.keep_freed_memory() is True
    assert malloc.keep_freed_memory() is True  # idempotent


@pytest.mark.skipif(on_glibc, reason="checks the fallback off glibc")
def test_returns_false_off_glibc(monkeypatch):
    monkeypatch.delenv(malloc.ENV, raising=False)
    assert malloc.keep_freed_memory() is False
