"""CSV import/export: validation by line number, all-or-nothing, dollars or cents, round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kalbot.backtest.csv_layout import RowError, parse_row, units_from_note
from kalbot.cli import register_commands
from kalbot.cli.apps import app

HEADER = "timestamp,ticker,yes_bid,yes_ask,volume_24h,open_interest,close_time,category,result\n"
GOOD = "2026-03-02T12:00:00Z,M-1,0.40,0.45,500,100,2026-03-03T00:00:00Z,Test,yes\n"


def _cli(*args: str) -> tuple[int, str]:
    register_commands()
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.output


def _count(url: str) -> int:
    import asyncio

    from kalbot.adapters.store.repository import Repository

    async def go() -> int:
        repo = Repository(url)
        await repo.initialize()
        try:
            return await repo.count_snapshots()
        finally:
            await repo.close()

    return asyncio.run(go())


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(
    tmp_path: Path, sqlite_url: str
) -> None:
    f = tmp_path / "h.csv"
    f.write_text(
        "# prices: dollars\n"
        + HEADER
        + GOOD
        + "2026-03-02T12:00:00Z,M-2,0.50,0.45,1,1,2026-03-03T00:00:00Z,Test,\n"  # crossed
        + GOOD.replace("0.40", "40")  # cents in a dollars file
        + GOOD.replace(",yes", ",maybe")
        + GOOD.replace("2026-03-02T12:00:00Z", "yesterday"),
        encoding="utf-8",
    )
    code, out = _cli("data", "import-csv", str(f), "--url", sqlite_url)
    assert code == 1
    assert "line 4: yes_bid 0.5 is above yes_ask 0.45" in out
    assert "line 5: yes_bid: 40 dollars is outside 0..1 (cents? use --units cents)" in out
    assert "line 6: result" in out
    assert "line 7: timestamp: not an ISO 8601 time" in out
    assert "4 invalid rows; nothing imported" in out
    assert _count(sqlite_url) == 0


def test_unit_must_be_declared(tmp_path: Path, sqlite_url: str) -> None:
    f = tmp_path / "h.csv"
    f.write_text(HEADER + GOOD, encoding="utf-8")
    code, out = _cli("data", "import-csv", str(f), "--url", sqlite_url)
    assert code == 1 and "price unit unknown" in out


def test_cents_import_and_dollar_export_round_trip(tmp_path: Path, sqlite_url: str) -> None:
    f = tmp_path / "c.csv"
    f.write_text(
        HEADER
        + GOOD.replace("0.40,0.45", "40,45")
        + GOOD.replace("12:00", "13:00").replace("0.40,0.45", "41,46"),
        encoding="utf-8",
    )
    code, out = _cli("data", "import-csv", str(f), "--units", "cents", "--url", sqlite_url)
    assert code == 0, out
    assert "imported 2 snapshots and 1 results" in out
    dest = tmp_path / "out.csv"
    code, out = _cli("data", "export-csv", "--out", str(dest), "--url", sqlite_url)
    assert code == 0, out
    lines = dest.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# prices: dollars"
    assert lines[2].startswith("2026-03-02T12:00:00Z,M-1,,,0.4,0.45,,,500,100,")
    assert lines[2].endswith(",yes")
    assert lines[3].split(",")[4:6] == ["0.41", "0.46"]
    # the export imports again unchanged
    other = f"sqlite+aiosqlite:///{tmp_path / 'again.db'}"
    code, out = _cli("data", "import-csv", str(dest), "--url", other)
    assert code == 0, out
    again = tmp_path / "again.csv"
    _cli("data", "export-csv", "--out", str(again), "--url", other)
    assert again.read_text(encoding="utf-8") == dest.read_text(encoding="utf-8")


def test_header_note() -> None:
    assert units_from_note("# prices: cents\n") == "cents"
    assert units_from_note("timestamp,ticker") is None
    with pytest.raises(RowError, match="unknown price unit"):
        units_from_note("# prices: euros")


@settings(max_examples=60, deadline=None)
@given(cents=st.integers(0, 100), sub=st.integers(0, 99))
def test_cents_and_dollars_agree(cents: int, sub: int) -> None:
    value = min(cents * 100 + sub, 10000)  # hundredths of a cent
    c = f"{value // 100}.{value % 100:02d}"
    d = f"{value / 10000:.4f}"
    base = {
        "timestamp": "2026-03-02T12:00:00Z",
        "ticker": "M",
        "close_time": "2026-03-03T00:00:00Z",
    }
    in_cents = parse_row({**base, "last_price": c}, 2, "cents").snapshot.last_price
    in_dollars = parse_row({**base, "last_price": d}, 2, "dollars").snapshot.last_price
    assert in_cents == in_dollars
