"""Market snapshots: bulk writes and streamed, time-ordered reads (``ports.SnapshotStore``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import URL

from kalbot.adapters.store.base import RepositoryBase
from kalbot.adapters.store.convert import to_text_time
from kalbot.adapters.store.dialect import bulk_insert, placeholders, stream_rows
from kalbot.adapters.store.errors import DRIVER_ERRORS, translate
from kalbot.domain.clock import parse_iso
from kalbot.domain.errors import InvalidRecord
from kalbot.domain.snapshot import Snapshot

SNAPSHOT_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "ticker",
    "title",
    "last_price",
    "yes_bid",
    "yes_ask",
    "no_bid",
    "no_ask",
    "volume_24h",
    "open_interest",
    "close_time",
    "category",
    "metadata",
)
"""The columns written and read, in order (``id`` and ``created_at`` are the database's)."""

STREAM_CHUNK = 5000


def snapshot_rows(snapshots: Sequence[Snapshot]) -> list[tuple[Any, ...]]:
    """Snapshots as driver tuples in SNAPSHOT_COLUMNS order.

    A recorder writes many markets at one instant, so each distinct timestamp is formatted once.
    """
    stamps: dict[datetime, str] = {}
    dumps = json.dumps
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for s in snapshots:
        ts = s.timestamp
        text = stamps.get(ts)
        if text is None:
            text = stamps[ts] = to_text_time(ts)
        if not s.ticker:
            raise InvalidRecord(f"snapshot at {text} has no ticker")
        meta = s.metadata
        append(
            (
                text,
                s.ticker,
                s.title,
                s.last_price,
                s.yes_bid,
                s.yes_ask,
                s.no_bid,
                s.no_ask,
                s.volume_24h,
                s.open_interest,
                s.close_time,
                s.category,
                dumps(meta, separators=(",", ":"), default=str) if meta else None,
            )
        )
    return rows


_SCALARS = (str, int, float, bool, type(None))
_META_CACHE_LIMIT = 50_000


class _Decoder:
    """Row -> Snapshot for one stream, with the two costs that dominate made cheap.

    Rows arrive in timestamp order, so consecutive rows mostly share their timestamp: it is
    parsed only when it changes. A market's metadata JSON is usually the same text snapshot
    after snapshot, so flat (scalar-valued) metadata is parsed once per distinct text and each
    Snapshot gets its own shallow copy (nothing is shared between snapshots).
    """

    def __init__(self) -> None:
        self.last_text: str | None = None
        self.last_dt: datetime | None = None
        self.meta: dict[str, dict[str, Any]] = {}
        self.decode = json.JSONDecoder().decode

    def metadata(self, text: str | None) -> dict[str, Any]:
        if not text:
            return {}
        cached = self.meta.get(text)
        if cached is not None:
            return dict(cached)
        value = self.decode(text)
        if not isinstance(value, dict):
            raise InvalidRecord(f"snapshot metadata is not a JSON object: {text[:80]!r}")
        if all(isinstance(v, _SCALARS) for v in value.values()):
            if len(self.meta) >= _META_CACHE_LIMIT:
                self.meta.clear()
            self.meta[text] = value
            return dict(value)
        return value

    def snapshots(self, rows: Sequence[Sequence[Any]]) -> list[Snapshot]:
        out: list[Snapshot] = []
        append = out.append
        metadata = self.metadata
        last_text, last_dt = self.last_text, self.last_dt
        for r in rows:
            text = r[0]
            if text != last_text:
                last_text, last_dt = text, parse_iso(text)
            append(
                Snapshot(
                    last_dt,  # type: ignore[arg-type]
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    r[6],
                    r[7],
                    r[8],
                    r[9],
                    r[10],
                    r[11],
                    metadata(r[12]),
                )
            )
        self.last_text, self.last_dt = last_text, last_dt
        return out


class SnapshotsMixin(RepositoryBase):
    """The ``market_snapshots`` table; satisfies ``kalbot.ports.SnapshotStore``."""

    async def add_snapshots(self, snapshots: Sequence[Snapshot]) -> int:
        """Write ``snapshots`` in one transaction by the fastest path (executemany on SQLite,
        COPY on PostgreSQL); returns how many were written. All or nothing."""
        rows = snapshot_rows(snapshots)
        if not rows:
            return 0
        async with self.transaction(f"writing {len(rows)} snapshots") as conn:
            return await bulk_insert(conn, "market_snapshots", SNAPSHOT_COLUMNS, rows)

    async def stream_snapshots(
        self,
        start: datetime,
        end: datetime,
        tickers: Sequence[str] | None = None,
        category: str | None = None,
    ) -> AsyncIterator[Snapshot]:
        """Snapshots with ``start <= timestamp < end`` in ``(timestamp, ticker)`` order,
        optionally only ``tickers`` and/or one ``category``, read in chunks (never all at once).

        The read holds one connection until the iteration ends or the iterator is closed.
        """
        lo, hi = to_text_time(start), to_text_time(end)
        params: list[Any] = [lo, hi]
        filters: list[tuple[str, int]] = [("timestamp >= {}", 1), ("timestamp < {}", 1)]
        if tickers is not None:
            wanted = list(dict.fromkeys(tickers))
            if not wanted:
                return
            filters.append(("ticker IN (" + ", ".join("{}" for _ in wanted) + ")", len(wanted)))
            params.extend(wanted)
        if category is not None:
            filters.append(("category = {}", 1))
            params.append(category)
        names = placeholders(len(params))
        marks = iter(names)
        condition = " AND ".join(f.format(*(next(marks) for _ in range(n))) for f, n in filters)
        # id breaks ties between two rows of one market at one instant, so the order is total.
        sql = (
            f"SELECT {', '.join(SNAPSHOT_COLUMNS)} FROM market_snapshots "
            f"WHERE {condition} ORDER BY timestamp, ticker, id"
        )
        decoder = _Decoder()
        doing = f"reading snapshots from {lo} to {hi}"
        async with self.connection(doing) as conn:
            try:
                bound = dict(zip((n[1:] for n in names), params, strict=True))
                async for chunk in stream_rows(conn, sql, bound, STREAM_CHUNK):
                    for snapshot in decoder.snapshots(chunk):
                        yield snapshot
            except DRIVER_ERRORS as e:
                raise translate(e, doing) from e

    async def count_snapshots(self) -> int:
        """How many rows ``market_snapshots`` holds."""
        async with self.connection("counting snapshots") as conn:
            result = await conn.exec_driver_sql("SELECT COUNT(*) FROM market_snapshots")
            return int(result.scalar_one())


class SnapshotReader(SnapshotsMixin):
    """The snapshot reads alone, for a process reading on behalf of one that has opened and
    checked the database (the backtest's reader process): no schema check, so no migrations
    are imported, and one connection."""

    def __init__(self, url: str | URL) -> None:
        super().__init__(url, pool_size=1, max_overflow=0)
        self._engine = self._build_engine()
