"""`kalbot data import-csv` / `export-csv`: market history in the documented CSV layout.

Import validates every row first (errors by line number); if any row fails nothing is imported.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, TextIO

import typer

from kalbot.backtest.csv_layout import (
    COLUMNS,
    NOTE,
    UNITS,
    Row,
    RowError,
    check_header,
    rows,
    units_from_note,
)
from kalbot.backtest.csv_layout import format_row as csv_row
from kalbot.cli.apps import data_app
from kalbot.cli.common import console, err_console, fail, run_async, settings_or_exit

BATCH = 5_000
MAX_ERRORS_SHOWN = 50


def _records(
    fh: TextIO, offset: int
) -> tuple[list[str] | None, Iterator[tuple[int, dict[str, str]]]]:
    reader = csv.DictReader(fh)
    fields = list(reader.fieldnames) if reader.fieldnames else None

    def gen() -> Iterator[tuple[int, dict[str, str]]]:
        for rec in reader:
            yield reader.line_num + offset, rec

    return fields, gen()


def _open(path: Path, units: str | None) -> tuple[TextIO, str, int]:
    fh = path.open(encoding="utf-8-sig", newline="")
    first = fh.readline()
    try:
        note = units_from_note(first)
    except RowError as e:
        fh.close()
        fail(str(e))
    if note is None:
        fh.seek(0)
    if units and note and units != note:
        fh.close()
        fail(f"--units {units} contradicts the file's header note ({note})")
    unit = units or note
    if unit is None:
        fh.close()
        fail(f"price unit unknown: pass --units dollars|cents or start the file with '{NOTE}cents'")
    return fh, unit, 1 if note else 0


def validate(path: Path, units: str | None) -> tuple[int, list[RowError], str]:
    fh, unit, offset = _open(path, units)
    errors: list[RowError] = []
    count = 0
    with fh:
        fields, recs = _records(fh, offset)
        try:
            check_header(fields, 1 + offset)
        except RowError as e:
            return 0, [e], unit
        for r in rows(recs, unit):
            if isinstance(r, RowError):
                errors.append(r)
            else:
                count += 1
    return count, errors, unit


@data_app.command("import-csv")
def import_csv(
    file: Annotated[Path, typer.Argument(help="CSV file (layout: docs/backtesting.md).")],
    units: Annotated[
        str | None, typer.Option("--units", help="dollars | cents (else the header note).")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="Database URL.")] = None,
) -> None:
    """Import snapshots (and results) from CSV; nothing is imported if any row is invalid."""
    if units is not None and units not in UNITS:
        fail(f"--units must be dollars or cents, got {units!r}")
    if not file.is_file():
        fail(f"no such file: {file}")
    count, errors, unit = validate(file, units)
    if errors:
        for e in errors[:MAX_ERRORS_SHOWN]:
            err_console.print(f"{file}: {e}", highlight=False, soft_wrap=True)
        more = len(errors) - MAX_ERRORS_SHOWN
        if more > 0:
            err_console.print(f"... and {more} more", highlight=False)
        fail(f"{len(errors)} invalid rows; nothing imported")
    if count == 0:
        fail(f"{file} has no rows; nothing imported")
    settings = settings_or_exit()

    async def go() -> tuple[int, int]:
        from kalbot.adapters.store.repository import Repository, create_repository
        from kalbot.domain.trading import MarketResultRow

        repo = Repository(url) if url else create_repository(settings)
        await repo.initialize()
        results: dict[str, MarketResultRow] = {}
        written = 0
        fh, _, offset = _open(file, unit)
        try:
            with fh:
                _, recs = _records(fh, offset)
                batch = []
                for r in rows(recs, unit):
                    assert isinstance(r, Row)  # validated above
                    batch.append(r.snapshot)
                    if r.result is not None:
                        s = r.snapshot
                        results[s.ticker] = MarketResultRow(
                            s.ticker, str(s.metadata.get("event_ticker") or s.ticker),
                            s.category or "", r.result, datetime.fromisoformat(
                                (s.close_time or "").replace("Z", "+00:00")
                            ),
                        )  # fmt: skip
                    if len(batch) >= BATCH:
                        written += await repo.add_snapshots(batch)
                        batch = []
                if batch:
                    written += await repo.add_snapshots(batch)
            if results:
                await repo.add_market_results([results[t] for t in sorted(results)])
        finally:
            await repo.close()
        return written, len(results)

    written, nres = run_async(go)
    console.print(
        f"imported {written:,} snapshots and {nres} results from {file} (prices in {unit})",
        highlight=False,
    )


@data_app.command("export-csv")
def export_csv(
    out: Annotated[Path | None, typer.Option("--out", help="File (default: stdout).")] = None,
    start: Annotated[str, typer.Option("--start", help="From (UTC).")] = "1970-01-01",
    end: Annotated[str, typer.Option("--end", help="Until, exclusive (UTC).")] = "2100-01-01",
    ticker: Annotated[list[str] | None, typer.Option("--ticker", help="Only these.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Database URL.")] = None,
) -> None:
    """Export snapshots (with their results) in the CSV layout, prices in dollars."""
    from kalbot.cli.backtest import parse_when

    first, last = parse_when(start, "--start"), parse_when(end, "--end")
    settings = settings_or_exit()

    async def go(fh: TextIO) -> int:
        from sqlalchemy import text

        from kalbot.adapters.store.repository import Repository, create_repository

        repo = Repository(url) if url else create_repository(settings)
        await repo.initialize(upgrade=False)
        n = 0
        try:
            async with repo.connection("reading results") as conn:
                sql = text("SELECT ticker, result FROM market_results")
                rows_ = (await conn.execute(sql)).all()
            res: dict[str, str] = {str(t): str(r) for t, r in rows_}
            w = csv.writer(fh, lineterminator="\n")
            fh.write(f"{NOTE}dollars\n")
            w.writerow(COLUMNS)
            async for snap in repo.stream_snapshots(first, last, ticker or None):
                w.writerow(csv_row(snap, res.get(snap.ticker)))
                n += 1
        finally:
            await repo.close()
        return n

    if out is None:
        run_async(lambda: go(sys.stdout))
        return
    with out.open("w", encoding="utf-8", newline="") as fh:
        n = run_async(lambda: go(fh))
    console.print(f"exported {n:,} snapshots to {out}", highlight=False)
