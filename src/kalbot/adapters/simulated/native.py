"""Which of the exchange's modules ``make native`` compiles with mypyc, and whether the compiled
ones are current.

``make install`` (and ``make demo``/``make test``) compile the hot path of the simulated
exchange with mypyc, the compiler of the mypy project: the extension modules sit next to their
sources and Python imports them first (docs/simulated-exchange.md, "Compiled engine"). A
compiled module older than its source would run stale code, so this package refuses to import
in that state (see ``__init__``); ``make native`` rebuilds, ``make pure`` removes them.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Keep in step with NATIVE_MODULES in the Makefile (a test checks).
NATIVE_MODULES = (
    "accounts",
    "book",
    "events",
    "exchange",
    "lifecycle",
    "markets",
    "matching",
    "records",
    "tape",
    "units",
)


def _compiled(name: str) -> Path | None:
    for suffix in EXTENSION_SUFFIXES:
        p = HERE / f"{name}{suffix}"
        if p.exists():
            return p
    return None


def compiled_modules() -> list[str]:
    """The modules of ``NATIVE_MODULES`` that have a compiled extension next to them."""
    return [n for n in NATIVE_MODULES if _compiled(n) is not None]


def stale_modules() -> list[str]:
    """Compiled modules whose source changed after they were built."""
    out = []
    for name in NATIVE_MODULES:
        so = _compiled(name)
        if so is not None and (HERE / f"{name}.py").stat().st_mtime > so.stat().st_mtime:
            out.append(name)
    return out
