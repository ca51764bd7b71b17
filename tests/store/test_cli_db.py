"""`kalbot db upgrade|downgrade|current|history`: results, and one-line errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalbot.adapters.store import migrate
from kalbot.cli import register_commands
from kalbot.cli.apps import app

runner = CliRunner()
register_commands()


def kalbot(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_upgrade_current_downgrade_history_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'k.db'}"
    head = migrate.head()
    code, out = kalbot("db", "upgrade", "--url", url)
    assert code == 0 and f"revision {head}" in out
    code, out = kalbot("db", "current", "--url", url)
    assert code == 0 and "up to date" in out
    code, out = kalbot("db", "downgrade", "base", "--url", url)
    assert code == 0 and "base (empty)" in out
    code, out = kalbot("db", "current", "--url", url)
    assert code == 0 and "behind" in out
    code, out = kalbot("db", "history")
    assert code == 0 and "0001" in out and head in out


def test_upgrade_on_postgresql(postgres_url: str) -> None:
    code, out = kalbot("db", "upgrade", "0001", "--url", postgres_url)
    assert code == 0 and "revision 0001" in out


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "unsupported database"),
        ("::::", "not a database URL"),
        ("postgresql://postgres@127.0.0.1:1/x", "Connect call failed"),
    ],
)
def test_bad_urls_and_unreachable_servers_are_one_line_errors(url: str, message: str) -> None:
    code, out = kalbot("db", "current", "--url", url)
    assert code == 1
    assert message in out and "Traceback" not in out
    assert len(out.strip().splitlines()) <= 2  # one message (rich may wrap a long line once)


def test_a_missing_file_and_a_foreign_database_are_refused(tmp_path: Path) -> None:
    code, out = kalbot("db", "current", "--url", f"sqlite:///{tmp_path / 'none.db'}")
    assert code == 1 and "no database file" in out
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE customers (id INTEGER)")
    code, out = kalbot("db", "upgrade", "--url", f"sqlite:///{foreign}")
    assert code == 1 and "not a kalbot database" in out
    with sqlite3.connect(foreign) as db:  # untouched
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("customers",)]
