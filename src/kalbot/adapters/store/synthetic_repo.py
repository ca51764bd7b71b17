"""What ``kalbot data synth`` needs to stay idempotent: which synthetic runs a database holds,
and removing them on request.

Synthetic snapshots carry ``metadata["source"] == "synthetic"`` and, since data synth became
idempotent, ``metadata["synth_run"]``: a fingerprint of the generator's arguments (seed,
markets, days, start, step, void rate). Rows written before that have no fingerprint.
"""

from __future__ import annotations

import json

from sqlalchemy import delete, func, select

from kalbot.adapters.store.base import RepositoryBase
from kalbot.adapters.store.tables import market_snapshots
from kalbot.adapters.store.tables_trading import market_results

# How snapshot metadata is written (compact JSON, see snapshots_repo.snapshot_rows).
SYNTHETIC_LIKE = '%"source":"synthetic"%'
RUN_KEY = "synth_run"
UNMARKED = "(written before runs were fingerprinted)"


async def synthetic_runs(repo: RepositoryBase) -> dict[str, set[str]]:
    """Every synthetic run stored: fingerprint (or ``UNMARKED``) -> its tickers.

    One row per synthetic ticker is read (its first), not the whole table.
    """
    synthetic = market_snapshots.c.metadata.like(SYNTHETIC_LIKE)
    first = (
        select(func.min(market_snapshots.c.id)).where(synthetic).group_by(market_snapshots.c.ticker)
    )
    query = select(market_snapshots.c.ticker, market_snapshots.c.metadata).where(
        market_snapshots.c.id.in_(first)
    )
    runs: dict[str, set[str]] = {}
    async with repo.connection("listing synthetic runs") as conn:
        for ticker, text in (await conn.execute(query)).all():
            try:
                meta = json.loads(text) if text else {}
            except ValueError:
                meta = {}
            run = meta.get(RUN_KEY) if isinstance(meta, dict) else None
            runs.setdefault(str(run) if run else UNMARKED, set()).add(str(ticker))
    return runs


async def delete_synthetic(repo: RepositoryBase) -> tuple[int, int]:
    """Delete every synthetic snapshot, and the results of tickers that had only synthetic
    snapshots, in one transaction; returns (snapshots, results) deleted."""
    synthetic = market_snapshots.c.metadata.like(SYNTHETIC_LIKE)
    other = select(market_snapshots.c.ticker).where(
        market_snapshots.c.metadata.is_(None) | ~synthetic
    )
    tickers = select(market_snapshots.c.ticker).where(synthetic).distinct()
    async with repo.transaction("deleting synthetic history") as conn:
        results = await conn.execute(
            delete(market_results).where(
                market_results.c.ticker.in_(tickers), market_results.c.ticker.not_in(other)
            )
        )
        snaps = await conn.execute(delete(market_snapshots).where(synthetic))
    return int(snaps.rowcount or 0), int(results.rowcount or 0)
