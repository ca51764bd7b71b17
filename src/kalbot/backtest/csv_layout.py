"""The documented CSV layout of market history (``kalbot data import-csv`` / ``export-csv``).

Columns (header required, this order not required): the spec's ``market_snapshots`` columns
``timestamp, ticker, title, last_price, yes_bid, yes_ask, no_bid, no_ask, volume_24h,
open_interest, close_time, category``, then optional ``metadata`` (a JSON object) and ``result``
(``yes | no | void | scalar`` or empty). Prices are in dollars (0.42) or cents (42), declared
with ``--units`` or by a first line ``# prices: dollars`` / ``# prices: cents``. Every row is
validated; ``RowError`` names the line and the field. See docs/backtesting.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from kalbot.domain.clock import iso_utc
from kalbot.domain.snapshot import Snapshot

COLUMNS = (
    "timestamp", "ticker", "title", "last_price", "yes_bid", "yes_ask", "no_bid", "no_ask",
    "volume_24h", "open_interest", "close_time", "category", "metadata", "result",
)  # fmt: skip
REQUIRED = ("timestamp", "ticker", "close_time")
PRICES = ("last_price", "yes_bid", "yes_ask", "no_bid", "no_ask")
RESULTS = ("yes", "no", "void", "scalar")
UNITS = ("dollars", "cents")
NOTE = "# prices: "


class RowError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    snapshot: Snapshot
    result: str | None


def units_from_note(first_line: str) -> str | None:
    """``dollars``/``cents`` from a ``# prices: ...`` first line, else None."""
    s = first_line.strip().lower()
    if not s.startswith(NOTE):
        return None
    unit = s[len(NOTE) :].strip()
    if unit not in UNITS:
        raise RowError(1, f"unknown price unit {unit!r} in the header note (dollars or cents)")
    return unit


def _time(value: str, name: str, line: int) -> datetime:
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise RowError(line, f"{name}: not an ISO 8601 time: {value!r}") from None
    if dt.tzinfo is None:
        raise RowError(line, f"{name}: needs a UTC offset or Z: {value!r}")
    return dt.astimezone(UTC)


def _price(value: str, name: str, unit: str, line: int) -> float | None:
    if value.strip() == "":
        return None
    try:
        d = Decimal(value.strip())
    except InvalidOperation:
        raise RowError(line, f"{name}: not a number: {value!r}") from None
    if not d.is_finite():
        raise RowError(line, f"{name}: not a number: {value!r}")
    if unit == "cents":
        if not 0 <= d <= 100:
            raise RowError(line, f"{name}: {value} cents is outside 0..100")
        d = d / 100
    elif not 0 <= d <= 1:
        hint = " (cents? use --units cents)" if 1 < d <= 100 else ""
        raise RowError(line, f"{name}: {value} dollars is outside 0..1{hint}")
    if d != d.quantize(Decimal("0.0001")):
        raise RowError(line, f"{name}: finer than $0.0001: {value!r}")
    return float(d)


def _count(value: str, name: str, line: int) -> int | None:
    if value.strip() == "":
        return None
    try:
        n = int(value.strip())
    except ValueError:
        raise RowError(line, f"{name}: not a whole number: {value!r}") from None
    if n < 0:
        raise RowError(line, f"{name}: negative: {value!r}")
    return n


def parse_row(rec: dict[str, str], line: int, unit: str) -> Row:
    for name in REQUIRED:
        if not (rec.get(name) or "").strip():
            raise RowError(line, f"{name}: required")
    ts = _time(rec["timestamp"], "timestamp", line)
    close = _time(rec["close_time"], "close_time", line)
    p = {name: _price(rec.get(name) or "", name, unit, line) for name in PRICES}
    for bid, ask in (("yes_bid", "yes_ask"), ("no_bid", "no_ask")):
        b, a = p[bid], p[ask]
        if b is not None and a is not None and b > a:
            raise RowError(line, f"{bid} {b} is above {ask} {a}")
    meta_text = (rec.get("metadata") or "").strip()
    meta: dict[str, Any] = {}
    if meta_text:
        try:
            loaded = json.loads(meta_text)
        except ValueError:
            raise RowError(line, "metadata: not JSON") from None
        if not isinstance(loaded, dict):
            raise RowError(line, "metadata: must be a JSON object")
        meta = loaded
    result = (rec.get("result") or "").strip().lower() or None
    if result is not None and result not in RESULTS:
        raise RowError(line, f"result: must be one of {', '.join(RESULTS)} or empty: {result!r}")
    if result is not None:
        meta["result"] = result
    snap = Snapshot(
        timestamp=ts,
        ticker=rec["ticker"].strip(),
        title=(rec.get("title") or "").strip() or None,
        last_price=p["last_price"],
        yes_bid=p["yes_bid"],
        yes_ask=p["yes_ask"],
        no_bid=p["no_bid"],
        no_ask=p["no_ask"],
        volume_24h=_count(rec.get("volume_24h") or "", "volume_24h", line),
        open_interest=_count(rec.get("open_interest") or "", "open_interest", line),
        close_time=iso_utc(close),
        category=(rec.get("category") or "").strip() or None,
        metadata=meta,
    )
    return Row(line, snap, result)


def check_header(fields: Iterable[str] | None, line: int) -> None:
    names = list(fields or [])
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise RowError(line, f"header lacks {', '.join(missing)} (columns: {', '.join(COLUMNS)})")
    unknown = [c for c in names if c not in COLUMNS]
    if unknown:
        raise RowError(line, f"unknown columns {', '.join(unknown)}")


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(Decimal(str(value)).quantize(Decimal("0.0001")).normalize())


def format_row(snap: Snapshot, result: str | None) -> list[str]:
    """One CSV row in dollars (the export's unit)."""
    meta = {k: v for k, v in (snap.metadata or {}).items() if k != "result"}
    return [
        iso_utc(snap.timestamp), snap.ticker, snap.title or "", _num(snap.last_price),
        _num(snap.yes_bid), _num(snap.yes_ask), _num(snap.no_bid), _num(snap.no_ask),
        "" if snap.volume_24h is None else str(snap.volume_24h),
        "" if snap.open_interest is None else str(snap.open_interest),
        snap.close_time or "", snap.category or "",
        json.dumps(meta, sort_keys=True, default=str) if meta else "",
        result or str((snap.metadata or {}).get("result") or ""),
    ]  # fmt: skip


def rows(records: Iterator[tuple[int, dict[str, str]]], unit: str) -> Iterator[Row | RowError]:
    """Parse ``(line, record)`` pairs; errors are yielded, not raised, so all are reported."""
    for line, rec in records:
        if None in rec:
            yield RowError(line, "more fields than the header")
            continue
        try:
            yield parse_row(rec, line, unit)
        except RowError as e:
            yield e
