"""Every `kalbot db` operations command: one clear line and exit 1 on bad input, no traceback."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from conftest import drop_postgres_database, make_postgres_database
from kalbot.adapters.store.ops.backup import backup_database
from kalbot.cli import register_commands
from kalbot.cli.apps import app

from .data import seed

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/kalshi_trading"


def _invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    register_commands()
    return CliRunner().invoke(app, args, env=env)


def _assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def backups(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real kalbot backups of both kinds, so a restore fails on its target, not its file."""
    folder = tmp_path_factory.mktemp("backups")
    sqlite_backup = folder / "b.db"
    asyncio.run(seed(f"sqlite+aiosqlite:///{sqlite_backup}"))
    found = {"sqlite": sqlite_backup}
    pg_url = make_postgres_database()  # CI fails, a laptop skips, when it is unreachable
    try:
        asyncio.run(seed(pg_url))
        found["postgresql"] = asyncio.run(
            backup_database(pg_url, folder / "b.dump", now=datetime.now(UTC))
        ).path
    finally:
        drop_postgres_database(pg_url)
    return found


def _command(
    name: str, url: str, tmp_path: Path, backups: dict[str, Path] | None = None
) -> list[str]:
    """``name`` pointed at ``url`` with otherwise valid arguments."""
    if name == "restore":
        if backups is None:
            backup = tmp_path / "fake.db"
            backup.write_bytes(b"SQLite format 3\x00" + bytes(100))
        else:
            backup = backups["sqlite" if url.startswith("sqlite") else "postgresql"]
        return ["db", "restore", str(backup), "--url", url]
    if name == "copy":
        return ["db", "copy", "--from", url, "--to", f"sqlite:///{tmp_path / 'copy.db'}"]
    extra = {
        "backup": ["--output", str(tmp_path / "out.db")],
        "dump": [],
        "cleanup": ["--snapshots-older-than", "90d"],
        "archive": ["--closed-older-than", "365d"],
        "stats": [],
        "explain": ["SELECT 1"],
    }[name]
    return ["db", name, *extra, "--url", url]


COMMANDS = ["backup", "restore", "dump", "copy", "cleanup", "archive", "stats", "explain"]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_url_is_one_line(command: str, tmp_path: Path) -> None:
    _assert_one_line_error(
        _invoke(_command(command, "mysql://root@localhost/x", tmp_path)), "bad database URL"
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_sqlite_file_is_one_line_and_is_not_created(command: str, tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "kalshi_trading.db"
    result = _invoke(_command(command, f"sqlite:///{missing}", tmp_path))
    if command == "restore":  # restoring INTO a new file is allowed; this backup is a fake
        _assert_one_line_error(result, "not a readable SQLite database")
    else:
        _assert_one_line_error(result, "no SQLite database", str(missing))
    assert not missing.exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unreachable_server_is_one_line(
    command: str, tmp_path: Path, backups: dict[str, Path]
) -> None:
    _assert_one_line_error(
        _invoke(_command(command, UNREACHABLE, tmp_path, backups)), "cannot connect", "127.0.0.1:1"
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_a_database_that_is_not_kalbots_is_one_line(
    command: str, tmp_path: Path, backups: dict[str, Path]
) -> None:
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.close()
    result = _invoke(_command(command, f"sqlite:///{foreign}", tmp_path, backups))
    _assert_one_line_error(result, "not a kalbot")


def test_a_missing_backup_file_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    result = _invoke(["db", "restore", str(tmp_path / "missing.db"), "--url", url])
    _assert_one_line_error(result, "no backup file")


def test_a_text_file_that_is_no_sqlite_database_is_one_line(tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("just some notes, not a database\n" * 20)
    _assert_one_line_error(_invoke(["db", "stats", "--url", f"sqlite:///{notes}"]), "not a")


@pytest.mark.postgres
def test_an_empty_postgres_database_is_not_a_kalbot_database(postgres_url: str) -> None:
    _assert_one_line_error(_invoke(["db", "stats", "--url", postgres_url]), "not a kalbot")


def test_a_bad_age_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    asyncio.run(seed(f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"))
    result = _invoke(["db", "cleanup", "--snapshots-older-than", "ninety", "--url", url])
    _assert_one_line_error(result, "bad age")


def test_commands_use_the_configured_database_by_default(tmp_path: Path) -> None:
    db = tmp_path / "configured.db"
    asyncio.run(seed(f"sqlite+aiosqlite:///{db}"))
    result = _invoke(["db", "stats"], env={"KALBOT_DATABASE_URL": f"sqlite:///{db}"})
    assert result.exit_code == 0, result.output
    assert "configured.db" in result.stdout and "positions" in result.stdout
    archive = _invoke(
        ["db", "archive", "--closed-older-than", "365d", "--dry-run"],
        env={"KALBOT_DATABASE_URL": f"sqlite:///{db}"},
    )
    assert archive.exit_code == 0 and "would move 2 closed positions" in archive.stdout


def test_a_real_process_prints_one_line_and_exits_non_zero(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "kalbot", "db", "stats", "--url", UNREACHABLE],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: cannot connect")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_a_bad_age_for_archive_is_one_line_and_moves_nothing(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    asyncio.run(seed(f"sqlite+aiosqlite:///{db}"))
    result = _invoke(["db", "archive", "--closed-older-than", "1 year", "--url", f"sqlite:///{db}"])
    _assert_one_line_error(result, "bad age")
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM positions_archive").fetchone() == (0,)


@pytest.mark.parametrize(
    ("command", "age", "table", "dry", "done", "tail"),
    [
        ("cleanup", "--snapshots-older-than", "market_snapshots", "would delete", "deleted",
         r"snapshot rows older than \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"),
        ("archive", "--closed-older-than", "positions", "would move", "moved",
         r"closed positions \(exit before \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\) to positions_archive"),
    ],
)  # fmt: skip
def test_retention_commands_say_what_they_would_do_then_what_they_did(
    tmp_path: Path, command: str, age: str, table: str, dry: str, done: str, tail: str
) -> None:
    db = tmp_path / "k.db"
    asyncio.run(seed(f"sqlite+aiosqlite:///{db}"))

    def rows() -> int:
        count = sqlite3.connect(db).execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        assert isinstance(count, int)
        return count

    before = rows()
    args = ["db", command, age, "365d", "--url", f"sqlite:///{db}"]
    preview = _invoke([*args, "--dry-run"])
    assert preview.exit_code == 0, preview.output
    found = re.fullmatch(rf"{dry} (\d+) {tail}", preview.stdout.strip())
    assert found, preview.stdout
    matched = int(found.group(1))
    assert matched > 0 and rows() == before  # the seed has rows older than a year
    real = _invoke(args)
    assert real.exit_code == 0, real.output
    assert re.fullmatch(rf"{done} {matched} {tail}", real.stdout.strip()), real.stdout
    assert rows() == before - matched
    again = _invoke(args)
    assert re.fullmatch(rf"{done} 0 {tail}", again.stdout.strip()), again.stdout
