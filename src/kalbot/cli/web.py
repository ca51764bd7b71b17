"""`kalbot web` (the dashboard) and `kalbot health` (the same check /health runs)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from kalbot.cli.apps import app
from kalbot.cli.common import console, fail, run_async, settings_or_exit


@app.command("web")
def web(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: web.host, 127.0.0.1)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default: web.port, 8080)")
    ] = None,
) -> None:
    """Serve the read-only dashboard and JSON API (loopback unless a token is set)."""
    import uvicorn

    from kalbot.bootstrap import dashboard_app
    from kalbot.web.security import TokenRequired, is_loopback

    settings = settings_or_exit()
    bind = host or settings.web.host
    try:
        application = dashboard_app(settings, host=bind)
    except TokenRequired as e:
        fail(str(e))
    except ValueError as e:  # an unsupported database URL
        fail(str(e))
    listen = port or settings.web.port
    shown = f"[{bind}]" if ":" in bind else bind
    console.print(f"dashboard on http://{shown}:{listen}/", highlight=False)
    if not is_loopback(bind):
        console.print("every request must carry the token (open /?token=… in a browser)")
    uvicorn.run(application, host=bind, port=listen, log_level="warning", access_log=False)


@app.command("health")
def health(
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON")] = False,
    exchange: Annotated[
        bool, typer.Option("--exchange/--no-exchange", help="Also ask the exchange")
    ] = True,
) -> None:
    """Check the database, the last cycle, the risk state and the exchange; exit 1 if unhealthy."""
    from kalbot.bootstrap import exchange_probe
    from kalbot.domain.clock import SystemClock
    from kalbot.web.db import create_read_engine
    from kalbot.web.health import check_health
    from kalbot.web.models import Health
    from kalbot.web.reader import DashboardConfig, Reader

    settings = settings_or_exit()
    try:
        engine = create_read_engine(settings.database.effective_url())
    except ValueError as e:
        fail(str(e))
    reader = Reader(engine, DashboardConfig.from_settings(settings), SystemClock())
    probe = exchange_probe(settings) if exchange else None

    async def run() -> Health:
        try:
            return await check_health(reader, probe)
        finally:
            await engine.dispose()

    result = run_async(run)
    if as_json:
        console.print_json(json.dumps(result.model_dump(mode="json")))
    else:
        for c in result.checks:
            mark = "[green]ok  [/]" if c.ok else "[bold red]FAIL[/]"
            console.print(f"{mark} {c.name:<11} {c.detail}", highlight=False, soft_wrap=True)
        console.print("healthy" if result.healthy else "[bold red]unhealthy[/]")
    if not result.healthy:
        raise typer.Exit(1)
