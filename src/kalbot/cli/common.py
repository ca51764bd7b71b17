"""Shared CLI helpers: one-line errors, never a traceback."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from kalbot.config import ConfigError, KalshiSettings, Settings, load_settings
from kalbot.domain.errors import StoreError

console = Console()
err_console = Console(stderr=True)

T = TypeVar("T")


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as e:
        fail(str(e))


def kalshi_settings_for(
    settings: Settings, env: str | None, base_url: str | None
) -> KalshiSettings:
    """``settings.kalshi`` with the command's ``--env`` / ``--base-url`` applied (``--env``
    drops a configured base URL; ``--base-url`` wins over both)."""
    update: dict[str, object] = {}
    if env is not None:
        if env not in ("demo", "production"):
            fail(f"--env must be demo or production, not {env!r}")
        update["environment"] = env
        update["base_url"] = None
    if base_url is not None:
        update["base_url"] = base_url
    return settings.kalshi.model_copy(update=update)


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion for a command."""
    import asyncio

    return asyncio.run(factory())


DbUrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Database URL (default: the configured database)."),
]


def database_url(url: str | None) -> str:
    """``--url`` when given, else the configured database (a bad config exits with one line)."""
    return url if url else settings_or_exit().database.effective_url()


def run_store_op(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a database operation; any failure is one line on stderr and exit code 1."""
    try:
        return run_async(factory)
    except StoreError as e:
        fail(str(e))
    except OSError as e:
        fail(f"{e.strerror or e}: {e.filename}" if e.filename else str(e))
    except Exception as e:  # the promise is one line and a non-zero exit, whatever broke
        fail(f"unexpected {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
