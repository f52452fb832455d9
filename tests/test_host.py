"""jaxrnn.io.malloc: the malloc setting applies on glibc and honours its opt-out."""
import platform
import sys

import pytest

from jaxrnn.io import malloc as host

on_glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def test_opt_out_does_nothing(monkeypatch):
    monkeypatch.setenv(host.ENV, "default")
    assert host.keep_freed_memory() is False


@pytest.mark.skipif(not on_glibc, reason="the setting exists on glibc only")
def test_applies_on_glibc(monkeypatch):
    monkeypatch.delenv(host.ENV, raising=False)
    assert host.keep_freed_memory() is True
    assert host.keep_freed_memory() is True  # idempotent


@pytest.mark.skipif(on_glibc, reason="checks the fallback off glibc")
def test_returns_false_off_glibc(monkeypatch):
    monkeypatch.delenv(host.ENV, raising=False)
    assert host.keep_freed_memory() is False
