"""`kalbot config show`."""

from __future__ import annotations

import json

from kalbot.cli.apps import config_app
from kalbot.cli.common import console, settings_or_exit
from kalbot.config import masked


@config_app.command("show")
def show() -> None:
    """Print the effective settings, secrets masked."""
    settings = settings_or_exit()
    console.print_json(json.dumps(masked(settings)))
