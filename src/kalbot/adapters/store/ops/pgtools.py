"""Running PostgreSQL's own tools (pg_dump, pg_restore, psql) with one-line errors.

The password travels in ``PGPASSWORD`` (never in argv, where ``ps`` would show it).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from kalbot.adapters.store.ops.errors import ToolFailed
from kalbot.adapters.store.ops.urls import DatabaseUrl

_CHUNK = 1 << 16


def tool(name: str) -> str:
    """The path of a PostgreSQL client tool, or ToolFailed naming what to install."""
    found = shutil.which(name)
    if found is None:
        raise ToolFailed(f"{name} not found on PATH; install the PostgreSQL client tools")
    return found


def _first_error_line(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode(errors="replace").splitlines() if ln.strip()]
    for line in lines:
        if "error" in line.lower() or "fatal" in line.lower():
            return line
    return lines[0] if lines else "no message"


def run(name: str, args: Sequence[str], db: DatabaseUrl) -> bytes:
    """Run a tool to completion; its stdout, or ToolFailed with its first error line."""
    proc = subprocess.run([tool(name), *args], env=db.libpq_env(), capture_output=True, check=False)
    if proc.returncode != 0:
        raise ToolFailed(f"{name} failed: {_first_error_line(proc.stderr)}")
    return proc.stdout


def stream_out(
    name: str, args: Sequence[str], db: DatabaseUrl, write: Callable[[bytes], object]
) -> None:
    """Run a tool and hand its stdout to ``write`` in chunks (dumps can be large)."""
    with subprocess.Popen(
        [tool(name), *args], env=db.libpq_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        while chunk := proc.stdout.read(_CHUNK):
            write(chunk)
        stderr = proc.stderr.read()
        code = proc.wait()
    if code != 0:
        raise ToolFailed(f"{name} failed: {_first_error_line(stderr)}")


def psql_script(db: DatabaseUrl, preamble: str, body: Path | Sequence[str]) -> None:
    """Feed ``preamble`` then a SQL body into psql as ONE transaction that stops at the first error.

    ``body`` is a SQL file, or a pg_restore argument list whose stdout is the SQL.
    """
    psql_args = [
        tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
        *db.libpq_args(), "-d", db.database_name,
    ]  # fmt: skip
    env = db.libpq_env()
    with subprocess.Popen(
        psql_args,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as psql:
        assert psql.stdin is not None and psql.stderr is not None
        producer_error = b""
        try:
            psql.stdin.write(preamble.encode())
            if isinstance(body, Path):
                with body.open("rb") as f:
                    _pump(f, psql.stdin)
            else:
                with subprocess.Popen(
                    [tool("pg_restore"), *body],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                ) as producer:
                    assert producer.stdout is not None and producer.stderr is not None
                    _pump(producer.stdout, psql.stdin)
                    producer_error = producer.stderr.read()
                    if producer.wait() != 0:
                        # Abort psql's transaction: closing stdin after a broken script
                        # would commit what was read so far.
                        psql.kill()
                        psql.wait()
                        raise ToolFailed(f"pg_restore failed: {_first_error_line(producer_error)}")
        except BrokenPipeError:
            pass  # psql stopped at an error; its stderr says which
        finally:
            if psql.poll() is None:
                with contextlib.suppress(BrokenPipeError):
                    psql.stdin.close()
        stderr = psql.stderr.read()
        code = psql.wait()
    if code != 0:
        raise ToolFailed(f"psql failed, nothing restored: {_first_error_line(stderr)}")


def _pump(src: IO[bytes], dst: IO[bytes]) -> None:
    while chunk := src.read(_CHUNK):
        dst.write(chunk)
