"""Column kinds, value conversion between dialects, and the checksum both sides compute.

A copy moves raw driver values (SQLite: str/int/float/bytes; asyncpg: datetime, float, ...)
and converts each to what the target column takes. The checksum is computed from *normalised*
values so the same data gives the same digest on either database: a timestamp stored as ISO text
on SQLite and as ``TIMESTAMP`` on PostgreSQL normalises to one string; a REAL to its exact
``repr`` (so a float4 rounding is caught); NULL to a marker no value can produce.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import types as sqltypes
from sqlalchemy.types import TypeEngine

from kalbot.adapters.store.ops.errors import OpsError
from kalbot.domain.clock import iso_utc


class Kind(StrEnum):
    """What a column holds, independent of the dialect's spelling of its type."""

    INTEGER = "integer"
    FLOAT = "float"
    NUMERIC = "numeric"
    TEXT = "text"
    TIMESTAMP = "timestamp"
    TIMESTAMPTZ = "timestamptz"
    DATE = "date"
    BOOLEAN = "boolean"
    BYTES = "bytes"
    JSON = "json"
    OTHER = "other"


class ConversionError(OpsError):
    """A source value cannot be stored in the target column without changing it."""


def kind_of(type_: TypeEngine[Any]) -> Kind:
    """Classify a reflected column type (order matters: Float is a Numeric, DateTime a Date)."""
    checks: list[tuple[type[TypeEngine[Any]], Kind]] = [
        (sqltypes.Boolean, Kind.BOOLEAN),
        (sqltypes.Integer, Kind.INTEGER),
        (sqltypes.Float, Kind.FLOAT),
        (sqltypes.Numeric, Kind.NUMERIC),
        (sqltypes.JSON, Kind.JSON),
        (sqltypes.LargeBinary, Kind.BYTES),
        (sqltypes._Binary, Kind.BYTES),
        (sqltypes.String, Kind.TEXT),
    ]
    if isinstance(type_, sqltypes.DateTime):
        return Kind.TIMESTAMPTZ if getattr(type_, "timezone", False) else Kind.TIMESTAMP
    if isinstance(type_, sqltypes.Date):
        return Kind.DATE
    for cls, kind in checks:
        if isinstance(type_, cls):
            return kind
    if type(type_).__name__.upper() in {"DOUBLE_PRECISION", "DOUBLE", "REAL"}:
        return Kind.FLOAT
    return Kind.OTHER


def compared_kind(source: Kind, target: Kind) -> Kind:
    """The kind both sides normalise a column to (a timestamp on either side wins over text)."""
    if source == target:
        return source
    pair = {source, target}
    for winner in (Kind.TIMESTAMPTZ, Kind.TIMESTAMP, Kind.DATE, Kind.JSON, Kind.BOOLEAN):
        if winner in pair:
            return winner
    if pair <= {Kind.INTEGER, Kind.FLOAT, Kind.NUMERIC}:
        return Kind.NUMERIC  # 7 and 7.0 both normalise to "7"
    if Kind.TEXT in pair:
        return Kind.TEXT
    return Kind.OTHER


# -- reading any representation -------------------------------------------------------------


def as_datetime(value: Any) -> datetime:
    """A UTC-aware datetime from ISO text (``Z``, offset, ``T`` or space) or a datetime.

    A naive value is UTC: kalbot stores UTC only, and SQLite's CURRENT_TIMESTAMP is UTC.
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as e:
            raise ConversionError(f"not an ISO 8601 timestamp: {value!r}") from e
    else:
        raise ConversionError(f"not a timestamp: {value!r}")
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal) and value == int(value):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ConversionError(f"not an integer: {value!r}")


def _as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise ConversionError(f"not a number: {value!r}")
    try:
        return float(value)
    except ValueError as e:
        raise ConversionError(f"not a number: {value!r}") from e


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    raise ConversionError(f"not a boolean: {value!r}")


# -- converting for the target --------------------------------------------------------------


def converter(target: Kind, target_dialect: str) -> Callable[[Any], Any]:
    """A function turning any source value into what a ``target`` column of that dialect takes."""
    slow = _converter(target, target_dialect == "postgresql")
    # The common case (a str into text, an int into an integer, a float into a float) skips
    # the checks below: a copy calls this once per value.
    same = {Kind.TEXT: str, Kind.INTEGER: int, Kind.FLOAT: float}.get(target)
    if same is None:
        return slow

    def convert(value: Any) -> Any:
        if value is None or type(value) is same:
            return value
        return slow(value)

    return convert


def _converter(target: Kind, pg: bool) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if value is None:
            return None
        if target in (Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
            dt = as_datetime(value)
            if not pg:
                return iso_utc(dt)
            return dt if target == Kind.TIMESTAMPTZ else dt.replace(tzinfo=None)
        if target == Kind.DATE:
            d = value if isinstance(value, date) else as_datetime(value).date()
            return d if pg else d.isoformat()
        if target == Kind.TEXT:
            if isinstance(value, datetime):
                return iso_utc(as_datetime(value))
            if isinstance(value, date):
                return value.isoformat()
            if isinstance(value, bytes):
                raise ConversionError(f"binary value in a text column: {value[:16]!r}")
            return value if isinstance(value, str) else str(value)
        if target == Kind.INTEGER:
            return _as_int(value)
        if target == Kind.FLOAT:
            return _as_float(value)
        if target == Kind.NUMERIC:
            return Decimal(str(value))
        if target == Kind.BOOLEAN:
            b = _as_bool(value)
            return b if pg else int(b)
        if target == Kind.JSON:
            # Both take JSON text (SQLAlchemy's asyncpg codec encodes a str as-is).
            return value if isinstance(value, str) else json.dumps(value)
        if target == Kind.BYTES:
            return bytes(value)
        return value

    return convert


# -- normalising for the checksum -----------------------------------------------------------


def normaliser(kind: Kind) -> Callable[[Any], str | None]:
    """The function giving a value's canonical text for the checksum (None for NULL)."""
    if kind == Kind.TEXT:

        def text(value: Any) -> str | None:
            if value is None or type(value) is str:
                return value
            return _normalise(value, kind)

        return text
    if kind == Kind.INTEGER:

        def integer(value: Any) -> str | None:
            if type(value) is int:
                return str(value)
            return _normalise(value, kind)

        return integer
    if kind == Kind.FLOAT:

        def real(value: Any) -> str | None:
            if type(value) is float and value == value:  # not NaN
                return repr(value + 0.0)  # + 0.0 folds -0.0 into 0.0
            return _normalise(value, kind)

        return real
    if kind == Kind.TIMESTAMP or kind == Kind.TIMESTAMPTZ:

        def timestamp(value: Any) -> str | None:
            if type(value) is datetime and value.tzinfo is None:  # PostgreSQL TIMESTAMP
                return value.isoformat(timespec="microseconds")
            if type(value) is str:
                # The two forms kalbot writes, without a parse: iso_utc ("...:SSZ",
                # "...:SS.ffffffZ") and SQLite's CURRENT_TIMESTAMP ("YYYY-MM-DD HH:MM:SS").
                # (A malformed value of the same shape is refused by the converter anyway.)
                n = len(value)
                if n == 20 and value[19] == "Z" and value[10] == "T":
                    return value[:19] + ".000000"
                if n == 27 and value[26] == "Z" and value[19] == ".":
                    return value[:26]
                if n == 19 and value[10] == " ":
                    return f"{value[:10]}T{value[11:]}.000000"
            return _normalise(value, kind)

        return timestamp
    return lambda value: _normalise(value, kind)


def normalise(value: Any, kind: Kind) -> str | None:
    """The canonical text of a value for the checksum (None for NULL); equal data, equal text."""
    return normaliser(kind)(value)


def _normalise(value: Any, kind: Kind) -> str | None:
    if value is None:
        return None
    if kind in (Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
        return as_datetime(value).replace(tzinfo=None).isoformat(timespec="microseconds")
    if kind == Kind.DATE:
        return (value if isinstance(value, date) else as_datetime(value).date()).isoformat()
    if kind == Kind.FLOAT:
        f = _as_float(value)
        return "nan" if math.isnan(f) else repr(f + 0.0)
    if kind == Kind.INTEGER:
        return str(_as_int(value))
    if kind == Kind.NUMERIC:
        return format(Decimal(str(value)).normalize(), "f")
    if kind == Kind.BOOLEAN:
        return "1" if _as_bool(value) else "0"
    if kind == Kind.JSON:
        parsed = json.loads(value) if isinstance(value, str) else value
        return json.dumps(parsed, sort_keys=True, separators=(",", ":"))
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if kind == Kind.TEXT and isinstance(value, datetime):
        return iso_utc(as_datetime(value))
    return str(value)


# Kinds whose raw driver values are already canonical on both databases (str / int /
# float), and whose converter refuses anything else, so the checksum takes them as they come.
# The one exception, -0.0 (SQLite stores it as 0.0, PostgreSQL keeps the sign), is folded in
# the rare rows whose text shows one.
_CANONICAL = frozenset({Kind.TEXT, Kind.INTEGER, Kind.FLOAT})


class TableDigest:
    """A streaming sha256 over a table's rows, in primary-key order, of normalised values.

    Each row is hashed as the ``repr`` of the list of its values, one row per line, with every
    value that is not already canonical (timestamps, floats, booleans, ...) replaced by its
    normalised text. ``repr`` is unambiguous (quotes escaped, NULL a bare ``None``, ``5`` is not
    ``'5'``) and the result does not depend on how rows were batched. Tables without a primary
    key have no order both databases agree on, so their digest is order-independent: the sum
    (mod 2**256) of each row's own sha256.
    """

    def __init__(self, kinds: Sequence[Kind], ordered: bool = True) -> None:
        self._special = [(i, normaliser(k)) for i, k in enumerate(kinds) if k not in _CANONICAL]
        self._floats = [i for i, k in enumerate(kinds) if k == Kind.FLOAT]
        self._width = len(kinds)
        self._ordered = ordered
        self._hash = hashlib.sha256()
        self._sum = 0
        self.rows = 0

    def _line(self, row: Sequence[Any]) -> str:
        values = list(row)
        if len(values) != self._width:
            raise ValueError(f"row has {len(values)} values, expected {self._width}")
        for i, f in self._special:
            values[i] = f(values[i])
        line = repr(values)
        if self._floats and "-0.0" in line:
            for i in self._floats:
                if type(values[i]) is float:
                    values[i] += 0.0  # -0.0 + 0.0 is 0.0
            line = repr(values)
        return line

    def add(self, row: Sequence[Any]) -> None:
        self.add_many([row])

    def add_many(self, rows: Sequence[Sequence[Any]]) -> None:
        lines = [self._line(row) for row in rows]
        self.rows += len(lines)
        if self._ordered:
            if lines:
                self._hash.update(("\n".join(lines) + "\n").encode())
            return
        for line in lines:
            row_hash = int.from_bytes(hashlib.sha256(line.encode()).digest())
            self._sum = (self._sum + row_hash) % 2**256

    def hexdigest(self) -> str:
        if self._ordered:
            return self._hash.hexdigest()
        return f"{self._sum:064x}"
