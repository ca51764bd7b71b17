"""Value conversion and the checksum's normalisation: the same data digests the same anywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import REAL, TIMESTAMP, Boolean, Float, Integer, Numeric, Text
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION, JSONB

from kalbot.adapters.store.ops.errors import BadUrl
from kalbot.adapters.store.ops.urls import parse_database_url
from kalbot.adapters.store.ops.values import (
    ConversionError,
    Kind,
    TableDigest,
    compared_kind,
    converter,
    kind_of,
    normalise,
)
from kalbot.domain.clock import iso_utc

aware = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)


@settings(max_examples=75)
@given(aware, offsets)
def test_a_timestamp_normalises_the_same_as_text_or_as_either_datetime(
    when: datetime, tz: timezone
) -> None:
    forms = [
        iso_utc(when),  # kalbot's text on SQLite
        when.astimezone(tz).isoformat(),  # any offset
        when.replace(tzinfo=None),  # PostgreSQL TIMESTAMP, read back naive UTC
        when.replace(tzinfo=None).isoformat(sep=" "),  # SQLite CURRENT_TIMESTAMP style
    ]
    assert len({normalise(f, Kind.TIMESTAMP) for f in forms}) == 1


@settings(max_examples=75)
@given(aware)
def test_text_timestamps_survive_the_trip_through_a_postgres_timestamp_column(
    when: datetime,
) -> None:
    to_pg = converter(Kind.TIMESTAMP, "postgresql")
    back = converter(Kind.TEXT, "sqlite")
    stored = to_pg(iso_utc(when))
    assert stored.tzinfo is None
    assert normalise(back(stored), Kind.TIMESTAMP) == normalise(iso_utc(when), Kind.TIMESTAMP)


@settings(max_examples=100)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_are_compared_exactly_not_approximately(x: float) -> None:
    assert normalise(converter(Kind.FLOAT, "postgresql")(x), Kind.FLOAT) == normalise(x, Kind.FLOAT)
    nudged = x + max(abs(x), 1e-300) * 1e-15
    if nudged != x:
        assert normalise(nudged, Kind.FLOAT) != normalise(x, Kind.FLOAT)


def test_float32_rounding_changes_the_checksum() -> None:
    import struct

    as_float4 = struct.unpack("f", struct.pack("f", 0.65))[0]
    assert normalise(as_float4, Kind.FLOAT) != normalise(0.65, Kind.FLOAT)


@settings(max_examples=50)
@given(st.lists(st.tuples(st.integers(), st.text(), st.none() | st.floats(allow_nan=False))))
def test_a_digest_depends_on_every_value_and_on_row_order(rows: list[tuple[object, ...]]) -> None:
    kinds = [Kind.INTEGER, Kind.TEXT, Kind.FLOAT]
    a, b = TableDigest(kinds), TableDigest(kinds)
    for row in rows:
        a.add(row)
        b.add(row)
    assert a.hexdigest() == b.hexdigest() and a.rows == len(rows)
    if len(set(rows)) > 1:
        c = TableDigest(kinds)
        for row in reversed(rows):
            c.add(row)
        assert (c.hexdigest() == a.hexdigest()) == (list(reversed(rows)) == rows)


def test_null_empty_text_and_the_text_null_all_differ() -> None:
    digests = set()
    for value in (None, "", "None", "\x00"):
        d = TableDigest([Kind.TEXT])
        d.add((value,))
        digests.add(d.hexdigest())
    assert len(digests) == 4


def test_an_unordered_digest_ignores_order_but_not_multiplicity() -> None:
    def digest(rows: list[tuple[object, ...]]) -> str:
        d = TableDigest([Kind.INTEGER], ordered=False)
        for r in rows:
            d.add(r)
        return d.hexdigest()

    assert digest([(1,), (2,)]) == digest([(2,), (1,)])
    assert digest([(1,), (1,)]) != digest([(1,)])


@pytest.mark.parametrize(
    ("type_", "kind"),
    [
        (Integer(), Kind.INTEGER),
        (REAL(), Kind.FLOAT),
        (DOUBLE_PRECISION(), Kind.FLOAT),
        (Float(), Kind.FLOAT),
        (Numeric(10, 2), Kind.NUMERIC),
        (Text(), Kind.TEXT),
        (TIMESTAMP(), Kind.TIMESTAMP),
        (TIMESTAMP(timezone=True), Kind.TIMESTAMPTZ),
        (Boolean(), Kind.BOOLEAN),
        (JSONB(), Kind.JSON),
    ],
)
def test_reflected_types_map_to_kinds(type_: object, kind: Kind) -> None:
    assert kind_of(type_) == kind  # type: ignore[arg-type]


def test_a_timestamp_on_either_side_is_compared_as_a_timestamp() -> None:
    assert compared_kind(Kind.TEXT, Kind.TIMESTAMP) == Kind.TIMESTAMP
    assert compared_kind(Kind.TIMESTAMP, Kind.TEXT) == Kind.TIMESTAMP
    assert compared_kind(Kind.INTEGER, Kind.FLOAT) == Kind.NUMERIC
    assert normalise(7, Kind.NUMERIC) == normalise(7.0, Kind.NUMERIC) == "7"


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (Kind.INTEGER, "many"),
        (Kind.INTEGER, 1.5),
        (Kind.FLOAT, "cheap"),
        (Kind.TIMESTAMP, "yesterday"),
        (Kind.BOOLEAN, 2),
        (Kind.TEXT, b"\x00bytes"),
    ],
)
def test_values_a_column_cannot_hold_are_errors_not_guesses(kind: Kind, value: object) -> None:
    with pytest.raises(ConversionError):
        converter(kind, "postgresql")(value)


def test_booleans_are_integers_on_sqlite_and_booleans_on_postgres() -> None:
    assert converter(Kind.BOOLEAN, "sqlite")(True) == 1
    assert converter(Kind.BOOLEAN, "postgresql")(1) is True


@pytest.mark.parametrize(
    "url",
    ["", "mysql://u@h/db", "kalshi_trading.db", "sqlite://", "sqlite:///:memory:",
     "postgresql://h/", "postgresql://h:99999/db", "postgresql://h:port/db"],
)  # fmt: skip
def test_unusable_urls_are_refused(url: str) -> None:
    with pytest.raises(BadUrl, match=r"bad database URL|empty database URL"):
        parse_database_url(url)


def test_passwords_never_appear_in_messages_or_display() -> None:
    with pytest.raises(BadUrl) as info:
        parse_database_url("postgresql://kal:s3cret@h:port/db")
    assert "s3cret" not in str(info.value)
    db = parse_database_url("postgres://kal:s3cret@db.example:6543/kalshi")
    assert db.dialect == "postgresql" and "s3cret" not in db.display
    assert db.libpq_args() == ["-h", "db.example", "-p", "6543", "-U", "kal"]
    assert db.libpq_env()["PGPASSWORD"] == "s3cret"


def test_sqlite_urls_normalise_to_the_async_driver() -> None:
    db = parse_database_url("sqlite:///data/kalshi_trading.db")
    assert db.url.drivername == "sqlite+aiosqlite" and str(db.sqlite_path).endswith(".db")


def test_minus_zero_digests_like_zero_because_sqlite_drops_the_sign() -> None:
    a, b = TableDigest([Kind.TEXT, Kind.FLOAT]), TableDigest([Kind.TEXT, Kind.FLOAT])
    a.add(("x", -0.0))
    b.add(("x", 0.0))
    assert a.hexdigest() == b.hexdigest()
    c = TableDigest([Kind.TEXT, Kind.FLOAT])
    c.add(("x", 1e-300))
    assert c.hexdigest() != b.hexdigest()


@settings(max_examples=75)
@given(aware)
def test_the_fast_timestamp_forms_agree_with_a_full_parse(when: datetime) -> None:
    from kalbot.adapters.store.ops.values import _normalise, normaliser

    fast = normaliser(Kind.TIMESTAMP)
    whole = when.replace(microsecond=0)
    for text in (iso_utc(when), iso_utc(whole), whole.strftime("%Y-%m-%d %H:%M:%S")):
        assert fast(text) == _normalise(text, Kind.TIMESTAMP)
