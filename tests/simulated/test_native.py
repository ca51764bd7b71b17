"""The compiled exchange (``make native``): the module list and the stale-build guard."""

from __future__ import annotations

import os
import re
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from kalbot.adapters.simulated import native

ROOT = Path(__file__).resolve().parents[2]


def test_the_makefile_compiles_exactly_the_listed_modules() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    found = re.search(r"^NATIVE_MODULES := (.+)$", makefile, re.M)
    assert found is not None
    assert tuple(sorted(found.group(1).split())) == native.NATIVE_MODULES


def test_a_compiled_module_older_than_its_source_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(native, "HERE", tmp_path)
    suffix = EXTENSION_SUFFIXES[0]
    for name in ("matching", "book"):
        (tmp_path / f"{name}.py").write_text("", encoding="utf-8")
        (tmp_path / f"{name}{suffix}").write_bytes(b"")
    (tmp_path / "units.py").write_text("", encoding="utf-8")  # not compiled: never stale
    os.utime(tmp_path / f"matching{suffix}", (1_000, 1_000))  # built before its source
    assert native.compiled_modules() == ["book", "matching"]
    assert native.stale_modules() == ["matching"]


def test_the_exchange_in_use_is_not_stale() -> None:
    assert native.stale_modules() == []  # else importing kalbot.adapters.simulated had failed
