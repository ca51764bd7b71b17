"""The Typer applications; each ``kalbot.cli.<area>`` module adds its commands to these."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="kalbot",
    help="An AI-assisted trading bot for Kalshi prediction markets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect the effective settings.", no_args_is_help=True)
db_app = typer.Typer(
    help="The bot's database: schema, backups, copies, retention.", no_args_is_help=True
)
data_app = typer.Typer(
    help="Market history: synthesize, download, import, export.", no_args_is_help=True
)
sim_app = typer.Typer(help="The simulated exchange.", no_args_is_help=True)
exchange_app = typer.Typer(help="The exchange itself.", no_args_is_help=True)
ai_app = typer.Typer(help="AI spend and budget.", no_args_is_help=True)
analyst_app = typer.Typer(help="The analyst's own model.", no_args_is_help=True)

app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(data_app, name="data")
app.add_typer(sim_app, name="sim")
app.add_typer(exchange_app, name="exchange")
app.add_typer(ai_app, name="ai")
app.add_typer(analyst_app, name="analyst")
