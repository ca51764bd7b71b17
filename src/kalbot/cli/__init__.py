"""The ``kalbot`` command. Commands are thin: they parse, call bootstrap, print.

Each area keeps its commands in a module of this package; importing the module registers them
on the apps in ``kalbot.cli.apps``. Modules are found by listing the package, so adding an area
never touches this file.
"""

from __future__ import annotations

import importlib
import pkgutil

from kalbot.cli.apps import app

_NOT_COMMANDS = {"apps", "common"}


def register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name not in _NOT_COMMANDS and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def main() -> None:
    register_commands()
    app()
