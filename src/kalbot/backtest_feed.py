"""A backtest's snapshots read and converted in a reader process, beside the engine.

Reading ``market_snapshots`` and turning each row into a venue quote cost about as much as the
engine's cycles, and under one interpreter lock the two take turns. With a second CPU,
``ReaderProcess`` runs the read (``stream_snapshots``, the repository's own code) and the
conversion (``ReplayConverter``, the code ``ReplayDriver`` runs in process) in a child
Python process (``reader_main``), which writes each timestamp's ``PreparedBatch`` to its
standard output while the engine trades the one before: the engine's process never builds a
``Snapshot``.

- What arrives is what ``steps_by_time(stream_snapshots(...), converter.prepare)`` yields in
  process, step for step (tests compare whole reports).
- The pipe's buffer (widened to 1 MiB on Linux: ~30 steps of 1,000 markets) bounds how far
  the reader runs ahead, so memory stays flat while neither side waits on a momentary
  slowdown of the other.
- The query, with the database URL and its password, goes to the child on its standard input,
  never on a command line.
- A failure in the reader (the database went away, snapshots out of time order) is raised in
  the engine's process with its own type and message; a reader that dies without a word is a
  ``FeedError`` with the end of its standard error, never the end of the data.
- Closing the steps (the run stopped early or failed) or the ``ReaderProcess`` kills the
  reader at once; so does the engine's process ending (the reader's next write fails).
- The child imports only the store's read path, the converter and their libraries (no
  migrations, no engine): it is reading within a few tenths of a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import pickle
import sys
from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.engine import URL, make_url

from kalbot.adapters.simulated.scenarios.replay import PreparedBatch, ReplayConverter
from kalbot.backtest.steps import steps_by_time

try:
    import fcntl
except ImportError:  # not on POSIX: the pipe keeps its default size
    fcntl = None  # type: ignore[assignment]

_END = "end"
_FAIL = "fail"
_HEADER = 8  # bytes of a frame's length, little-endian
_STDERR_KEPT = 4000  # characters of the reader's standard error kept for an error message


class FeedError(RuntimeError):
    """The snapshot reader process failed in a way that has no error of its own to raise."""


def cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def can_read_ahead(url: URL | str) -> bool:
    """Whether a reader process can open this database and has a CPU of its own: a second
    CPU, and a database another process can open (not an in-memory SQLite)."""
    if cpus() < 2:
        return False
    u = make_url(url) if isinstance(url, str) else url
    if u.get_backend_name() == "sqlite":
        return u.database not in (None, "", ":memory:") and "mode=memory" not in str(u)
    return True


def reader_query(
    url: URL,
    start: datetime,
    end: datetime,
    tickers: Sequence[str] | None,
    category: str | None,
    *,
    recorded_liquidity: bool,
) -> dict[str, Any]:
    """What the reader reads (``stream_snapshots``' arguments) and how it converts it."""
    return {
        "url": url.render_as_string(hide_password=False),
        "start": start,
        "end": end,
        "tickers": list(tickers) if tickers is not None else None,
        "category": category,
        "recorded_liquidity": recorded_liquidity,
        "gc": gc.get_threshold(),  # the reader collects as its parent does
    }


def _frame(message: object) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(_HEADER, "little") + data


def _portable(error: BaseException) -> BaseException:
    """``error`` if it survives pickling, else a ``FeedError`` with its type and message."""
    try:
        pickle.loads(pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:
        return FeedError(f"{type(error).__name__}: {error}")
    return error


# -- the reader (child) side -----------------------------------------------------------------
async def _produce(out: BinaryIO, query: dict[str, Any]) -> None:
    from kalbot.adapters.store.snapshots_repo import SnapshotReader

    reader = SnapshotReader(query["url"])
    try:
        converter = ReplayConverter(recorded_liquidity=query["recorded_liquidity"])
        stream = reader.stream_snapshots(
            query["start"], query["end"], query["tickers"], query["category"]
        )
        async for batch in steps_by_time(stream, converter.prepare):
            out.write(_frame(batch))
            out.flush()
    finally:
        await reader.close()


_PIPE_BYTES = 1 << 20  # ~30 steps of 1,000 markets in flight (Linux's default is 64 KiB)


def _widen(fd: int) -> None:
    """Let the pipe to the engine hold more steps, so neither side waits on a momentary
    slowdown of the other (Linux only; elsewhere, or when refused, the default stays)."""
    setter = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if setter is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, setter, _PIPE_BYTES)


def reader_main() -> None:
    """The child process: every step, then the end mark; or the error that stopped it."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    _widen(out.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print cannot corrupt a frame
    try:
        query = pickle.load(sys.stdin.buffer)
        gc.set_threshold(*query["gc"])  # the collector setting of the process that started it
        asyncio.run(_produce(out, query))
        out.write(_frame((_END, None)))
        out.flush()
    except BrokenPipeError:
        return  # the engine's side closed: the run is over
    except BaseException as e:  # everything reaches the engine's process, even a Ctrl-C
        with contextlib.suppress(OSError):
            out.write(_frame((_FAIL, _portable(e))))
            out.flush()
    finally:
        with contextlib.suppress(OSError):
            out.close()


# -- the engine (parent) side ----------------------------------------------------------------
def _home() -> str:
    """The directory this ``kalbot`` package is imported from: the child imports the same."""
    import kalbot

    return str(Path(kalbot.__file__).resolve().parent.parent)


# The child imports the very ``kalbot`` this process runs (a source tree, a worktree or an
# installed copy): its directory goes first on the path only while ``kalbot`` itself (which
# imports nothing) is imported, so it can never shadow the standard library.
_BOOT = (
    "import sys; home = sys.argv[1]; sys.path.insert(0, home); import kalbot; "
    "sys.path.remove(home); from kalbot.backtest_feed import reader_main; reader_main()"
)


async def _tail(stream: asyncio.StreamReader, kept: list[str]) -> None:
    while chunk := await stream.read(4096):
        kept.append(chunk.decode(errors="replace"))
        text = "".join(kept)[-_STDERR_KEPT:]
        kept[:] = [text]


class ReaderProcess:
    """The reader child of one backtest: ``start`` it early, iterate ``steps()`` once, and
    ``close()`` it in any case (closing twice, or after the steps ended, is harmless)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._errors: list[str] = []
        assert proc.stderr is not None
        self._tail = asyncio.create_task(_tail(proc.stderr, self._errors))

    @classmethod
    async def start(cls, query: dict[str, Any]) -> ReaderProcess:
        """Launch the reader on ``query`` (``reader_main`` in a new interpreter): it starts
        reading now."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _BOOT, _home(),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        reader = cls(proc)
        try:
            assert proc.stdin is not None
            proc.stdin.write(pickle.dumps(query, protocol=pickle.HIGHEST_PROTOCOL))
            await proc.stdin.drain()
            proc.stdin.close()
        except BaseException:
            await reader.close()
            raise
        return reader

    async def steps(self) -> AsyncGenerator[PreparedBatch, None]:
        """The steps as the reader sends them; its error, if it failed, is raised here."""
        assert self.proc.stdout is not None
        read = self.proc.stdout.readexactly
        try:
            while True:
                try:
                    size = int.from_bytes(await read(_HEADER), "little")
                    message: Any = pickle.loads(await read(size))
                except asyncio.IncompleteReadError:
                    raise await self._died() from None
                if isinstance(message, PreparedBatch):
                    yield message
                    continue
                kind, error = message
                if kind == _END:
                    return
                raise error
        finally:
            await self.close()

    async def _died(self) -> FeedError:
        code = await self.proc.wait()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._tail), 2)
        said = "".join(self._errors).strip()
        return FeedError(
            f"the snapshot reader process ended before the end of the data (exit code {code})"
            + (f":\n{said}" if said else "")
        )

    async def close(self) -> None:
        """End the reader now (it is killed if still running) and reap it."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        await self.proc.wait()
        self._tail.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._tail
