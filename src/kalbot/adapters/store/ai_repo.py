"""The analyst's queries: analyses with their cost, budget reservations, spend per day.

A reservation starts by upserting the day's row in ``ai_budget_days``. That first statement
takes the row lock on PostgreSQL and the database write lock on SQLite (WAL, a deferred
transaction whose first statement writes), and both are held to commit, so the "spent +
reserved + this call <= budget" check and its reservation happen as one serialised step per
UTC day, across every process that shares the database. The check reads spend and
reservations in one statement (one snapshot); a settlement adds the cost and removes the
reservation in one transaction, so the check sees it entirely or not at all and never
under-counts.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, delete, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kalbot.adapters.store.analyses_repo import analysis_values, cost_upsert
from kalbot.adapters.store.base import RepositoryBase
from kalbot.adapters.store.convert import day_text, from_real, to_text_time
from kalbot.adapters.store.dialect import upsert
from kalbot.adapters.store.tables import ai_cost_tracking, market_analyses, market_snapshots
from kalbot.adapters.store.tables_ai import (
    ai_budget_days,
    ai_budget_limit,
    ai_budget_reservations,
)
from kalbot.domain.ai import StoredAnalysis
from kalbot.domain.clock import parse_iso
from kalbot.domain.decisions import Analysis, Decision
from kalbot.domain.errors import StoreError
from kalbot.domain.records import ProviderCost

MICRO = Decimal("0.000001")
ZERO = Decimal(0)


def _micro_up(amount: Decimal) -> int:
    return int((amount / MICRO).to_integral_value(rounding=ROUND_CEILING))


def _epoch_us(when: datetime) -> int:
    if when.tzinfo is None:
        raise ValueError("naive datetime; budget times are UTC")
    delta = when.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _reservation_day(reservation_id: str, default: date) -> date:
    try:
        return date.fromisoformat(reservation_id.split(":", 1)[0])
    except ValueError:
        return default


class ResolvedObservation(NamedTuple):
    """One snapshot of a market whose result is known (for fitting the heuristic)."""

    ticker: str
    timestamp: datetime
    yes_bid: Decimal
    yes_ask: Decimal
    close_time: datetime
    result_yes: bool


class AIRepoMixin(RepositoryBase):
    """``kalbot.ports.AIStore`` on the database, plus the reports ``kalbot ai costs`` shows."""

    async def _lock_day(self, conn: AsyncConnection, day: str) -> None:
        c = ai_budget_days.c
        await conn.execute(
            upsert(
                self.dialect,
                ai_budget_days,
                {"day": day, "lock_count": 1},
                ["day"],
                lambda ex: {"lock_count": c.lock_count + 1},
            )
        )

    async def _budget_state(
        self, conn: AsyncConnection, day: str, now_us: int
    ) -> tuple[int, int, int | None, int]:
        """(spent, live reservations, budget set in the database, expired reservations), in
        micro-dollars, read by ONE statement so they come from one snapshot: a settlement
        (cost added + reservation removed, one transaction) is seen entirely or not at all."""
        t = ai_cost_tracking.c
        r = ai_budget_reservations.c
        spent = select(func.sum(t.total_cost)).where(t.date == day).scalar_subquery()
        live = (
            select(func.sum(r.amount_micro))
            .where(r.day == day, r.expires_at_us > now_us)
            .scalar_subquery()
        )
        limit = select(ai_budget_limit.c.daily_budget_micro).limit(1).scalar_subquery()
        expired = (
            select(func.count()).where(r.day == day, r.expires_at_us <= now_us).scalar_subquery()
        )
        row = (await conn.execute(select(spent, live, limit, expired))).one()
        spent_dec = from_real(row[0]) or ZERO
        # REAL sums carry float noise; the nearest micro-dollar is the spend.
        spent_micro = int((spent_dec / MICRO).to_integral_value(rounding=ROUND_HALF_EVEN))
        override = None if row[2] is None else int(row[2])
        return spent_micro, int(row[1] or 0), override, int(row[3] or 0)

    async def reserve_ai_budget(
        self,
        *,
        day: date,
        provider: str,
        model: str,
        amount: Decimal,
        budget: Decimal,
        now: datetime,
        expires_at: datetime,
    ) -> str | None:
        """Reserve ``amount`` for one call if it fits today's budget; the id, or None.

        ``budget`` is the configured one; a budget set in the database wins over it.
        """
        if amount < 0 or budget < 0:
            raise ValueError("amount and budget cannot be negative")
        d = day_text(day)
        now_us = _epoch_us(now)
        r = ai_budget_reservations.c
        amount_micro = _micro_up(amount)
        budget_micro = int((budget / MICRO).to_integral_value(rounding=ROUND_HALF_EVEN))
        # The id carries the day, so settling needs no lookup.
        rid = f"{d}:{uuid.uuid4().hex}"
        t = ai_cost_tracking.c
        spent = select(func.coalesce(func.round(func.sum(t.total_cost) * 1_000_000), 0)).where(
            t.date == d
        )
        live = select(func.coalesce(func.sum(r.amount_micro), 0)).where(
            r.day == d, r.expires_at_us > now_us
        )
        limit = select(ai_budget_limit.c.daily_budget_micro).limit(1)
        fits = spent.scalar_subquery() + live.scalar_subquery() + literal(
            amount_micro
        ) <= func.coalesce(limit.scalar_subquery(), literal(budget_micro))
        # Check and reservation in one statement: the lock is held for two round trips only.
        reserve = (
            insert(ai_budget_reservations)
            .from_select(
                ["id", "day", "provider", "model", "amount_micro", "created_at", "expires_at_us"],
                select(
                    literal(rid),
                    literal(d),
                    literal(provider),
                    literal(model),
                    literal(amount_micro, BigInteger),
                    literal(to_text_time(now)),
                    literal(_epoch_us(expires_at), BigInteger),
                ).where(fits),
            )
            .returning(r.id)
        )
        async with self.transaction(f"reserving ${amount} of AI budget") as conn:
            await self._lock_day(conn, d)
            got = (await conn.execute(reserve)).scalar_one_or_none()
            if got is None:
                # Refused: a good moment to drop reservations of crashed callers for good.
                await conn.execute(
                    delete(ai_budget_reservations).where(r.day == d, r.expires_at_us <= now_us)
                )
                return None
            return str(got)

    async def release_ai_budget(self, reservation_id: str) -> None:
        """Drop a reservation whose call was not made (nothing to settle)."""
        async with self.transaction("releasing an AI budget reservation") as conn:
            await conn.execute(
                delete(ai_budget_reservations).where(ai_budget_reservations.c.id == reservation_id)
            )

    async def record_analysis(
        self, analysis: Analysis, *, timestamp: datetime, reservation_id: str | None = None
    ) -> int:
        """Insert the analysis, add its cost (and one call, if a model or the heuristic was
        actually called) to ``ai_cost_tracking`` and settle its reservation, in one
        transaction. The cost is booked on the reservation's day."""
        values = self._analysis_row(analysis, timestamp)
        r = ai_budget_reservations.c
        async with self.transaction(f"recording an analysis of {analysis.ticker}") as conn:
            day = timestamp.astimezone(UTC).date()
            if reservation_id is not None:
                day = _reservation_day(reservation_id, day)
            # No day lock here: a reservation reads spend and reservations in one statement
            # (one snapshot), and this transaction changes both at once.
            new_id = (
                await conn.execute(
                    insert(market_analyses).values(**values).returning(market_analyses.c.id)
                )
            ).scalar_one()
            calls = _calls(analysis)
            if calls or analysis.cost:
                await conn.execute(
                    cost_upsert(self.dialect, day, analysis.provider, analysis.cost, calls)
                )
            if reservation_id is not None:
                await conn.execute(delete(ai_budget_reservations).where(r.id == reservation_id))
            return int(new_id)

    def _analysis_row(self, analysis: Analysis, timestamp: datetime) -> dict[str, Any]:
        meta: dict[str, Any] = dict(analysis.metadata) | {
            "model": analysis.model,
            "input_tokens": analysis.input_tokens,
            "output_tokens": analysis.output_tokens,
            "latency_ms": analysis.latency_ms,
            "probability_yes": (
                None if analysis.probability_yes is None else str(analysis.probability_yes)
            ),
            "error": analysis.error,
        }
        return analysis_values(
            self.dialect,
            ticker=analysis.ticker,
            ai_provider=analysis.provider,
            cost=analysis.cost,
            timestamp=timestamp,
            decision=analysis.decision,
            confidence=analysis.confidence,
            analysis_text=analysis.rationale,
            metadata=meta,
        )

    async def record_analyses(self, items: Sequence[tuple[Analysis, datetime]]) -> list[int]:
        """Record many free analyses (cost 0, no reservation) in ONE transaction.

        Each row is stored exactly as ``record_analysis`` would store it, and the calls are
        added to ``ai_cost_tracking`` once per (day, provider). A paid analysis must settle
        its own reservation through ``record_analysis``, so a non-zero cost is refused (and
        nothing is written). Returns the new row ids in the order given.
        """
        if not items:
            return []
        rows = []
        calls: dict[tuple[date, str], int] = {}
        for analysis, timestamp in items:
            if analysis.cost != ZERO:
                raise ValueError(
                    f"record_analyses takes free analyses only; {analysis.ticker} cost "
                    f"${analysis.cost} (paid calls settle a reservation via record_analysis)"
                )
            rows.append(self._analysis_row(analysis, timestamp))
            key = (timestamp.astimezone(UTC).date(), analysis.provider)
            calls[key] = calls.get(key, 0) + _calls(analysis)
        ids: list[int] = []
        async with self.transaction(f"recording {len(rows)} analyses") as conn:
            for start in range(0, len(rows), _CHUNK):
                result = await conn.execute(
                    insert(market_analyses).returning(
                        market_analyses.c.id, sort_by_parameter_order=True
                    ),
                    rows[start : start + _CHUNK],
                )
                ids.extend(int(i) for i in result.scalars().all())
            for (day, provider), n in calls.items():
                if n:
                    await conn.execute(cost_upsert(self.dialect, day, provider, ZERO, n))
        return ids

    async def latest_analyses(
        self, tickers: Iterable[str], provider: str | None = None, since: datetime | None = None
    ) -> dict[str, StoredAnalysis]:
        """``latest_analysis`` for many tickers in one query per chunk of tickers.

        With ``since``, only analyses stamped after it are considered (a cache that reuses
        nothing older than its maximum age need not read the older rows). Tickers without
        one are absent from the result.
        """
        wanted = list(dict.fromkeys(tickers))
        out: dict[str, StoredAnalysis] = {}
        t = market_analyses.c
        async with self.connection(f"reading the latest analyses of {len(wanted)} markets") as conn:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                # The same 20 newest rows per ticker that ``latest_analysis`` reads.
                rank = (
                    func.row_number()
                    .over(partition_by=t.ticker, order_by=(t.timestamp.desc(), t.id.desc()))
                    .label("rank")
                )
                inner = select(market_analyses, rank).where(t.ticker.in_(chunk))
                if provider is not None:
                    inner = inner.where(t.ai_provider == provider)
                if since is not None:
                    inner = inner.where(t.timestamp > to_text_time(since))
                sub = inner.subquery()
                query = select(sub).where(sub.c.rank <= 20).order_by(sub.c.ticker, sub.c.rank)
                for row in (await conn.execute(query)).mappings().all():
                    if row["ticker"] in out:
                        continue
                    stored = _stored(row)
                    if stored is not None and stored.analysis.probability_yes is not None:
                        out[row["ticker"]] = stored
        return out

    async def set_ai_budget(self, daily_budget: Decimal | None, now: datetime) -> None:
        """Set (or with None, clear) the daily budget every process uses from its next call."""
        async with self.transaction("setting the AI budget") as conn:
            await conn.execute(delete(ai_budget_limit))
            if daily_budget is not None:
                if not daily_budget.is_finite() or daily_budget < 0:
                    raise ValueError("the daily budget must be a non-negative amount")
                await conn.execute(
                    insert(ai_budget_limit).values(
                        id=1,
                        daily_budget_micro=int(
                            (daily_budget / MICRO).to_integral_value(rounding=ROUND_HALF_EVEN)
                        ),
                        updated_at=to_text_time(now),
                    )
                )

    async def ai_budget_override(self) -> Decimal | None:
        """The daily budget set in the database, if any."""
        found = await self.ai_budget_override_set()
        return None if found is None else found[0]

    async def ai_budget_override_set(self) -> tuple[Decimal, datetime] | None:
        """The daily budget set in the database and when it was set, if one is."""
        t = ai_budget_limit.c
        async with self.connection("reading the AI budget") as conn:
            row = (await conn.execute(select(t.daily_budget_micro, t.updated_at))).one_or_none()
        if row is None:
            return None
        return Decimal(row.daily_budget_micro) * MICRO, parse_iso(row.updated_at)

    async def ai_spend(self, day: date, now: datetime) -> tuple[Decimal, Decimal]:
        """(settled spend from ``ai_cost_tracking``, live reservations) for the UTC ``day``."""
        async with self.connection(f"reading AI spend for {day}") as conn:
            spent, reserved, _, _ = await self._budget_state(conn, day_text(day), _epoch_us(now))
        return Decimal(spent) * MICRO, Decimal(reserved) * MICRO

    async def latest_analysis(
        self, ticker: str, provider: str | None = None
    ) -> StoredAnalysis | None:
        """The newest stored analysis of ``ticker`` (by ``provider``) with a probability."""
        t = market_analyses.c
        query = select(market_analyses).where(t.ticker == ticker)
        if provider is not None:
            query = query.where(t.ai_provider == provider)
        query = query.order_by(t.timestamp.desc(), t.id.desc()).limit(20)
        async with self.connection(f"reading the latest analysis of {ticker}") as conn:
            rows = (await conn.execute(query)).mappings().all()
        for row in rows:
            stored = _stored(row)
            if stored is not None and stored.analysis.probability_yes is not None:
                return stored
        return None

    async def ai_costs(self, since: date, until: date) -> list[ProviderCost]:
        """``ai_cost_tracking`` rows for ``since <= date <= until``, newest day first."""
        t = ai_cost_tracking.c
        query = (
            select(t.date, t.provider, t.total_cost, t.num_calls)
            .where(t.date >= day_text(since), t.date <= day_text(until))
            .order_by(t.date.desc(), t.provider)
        )
        async with self.connection("reading AI costs") as conn:
            rows = (await conn.execute(query)).all()
        return [
            ProviderCost(
                day=date.fromisoformat(row.date),
                provider=row.provider,
                total_cost=from_real(row.total_cost) or ZERO,
                num_calls=int(row.num_calls),
            )
            for row in rows
        ]

    async def latest_snapshot(self, ticker: str) -> Mapping[str, Any] | None:
        """The newest ``market_snapshots`` row of ``ticker`` (for ``kalbot analyze``)."""
        s = market_snapshots.c
        query = (
            select(market_snapshots)
            .where(s.ticker == ticker)
            .order_by(s.timestamp.desc(), s.id.desc())
            .limit(1)
        )
        async with self.connection(f"reading the latest snapshot of {ticker}") as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else dict(row)

    async def resolved_observations(self) -> list[ResolvedObservation]:
        """Two-sided snapshots of markets whose result is known.

        The result comes from the ``market_results`` table when it exists (revision 0003),
        else from a snapshot's metadata JSON ``"result"`` ("yes"/"no"; void/scalar ignored).
        """
        results = await self._market_results()
        s = market_snapshots.c
        query = select(
            s.ticker, s.timestamp, s.yes_bid, s.yes_ask, s.close_time, s.metadata
        ).order_by(s.ticker, s.timestamp)
        rows: list[Any] = []
        async with self.connection("reading resolved market snapshots") as conn:
            rows = list((await conn.execute(query)).all())
        for row in rows:
            if row.ticker in results or not row.metadata:
                continue
            try:
                meta = json.loads(row.metadata)
            except ValueError:
                continue
            result = meta.get("result") if isinstance(meta, dict) else None
            if isinstance(result, str) and result.lower() in ("yes", "no"):
                results[row.ticker] = result.lower() == "yes"
        out: list[ResolvedObservation] = []
        for row in rows:
            if row.ticker not in results or row.yes_bid is None or row.yes_ask is None:
                continue
            if not row.close_time:
                continue
            bid, ask = from_real(row.yes_bid), from_real(row.yes_ask)
            if bid is None or ask is None or not ZERO < bid <= ask < 1:
                continue
            ts, close = parse_iso(row.timestamp), parse_iso(row.close_time)
            if close - ts < timedelta(0):
                continue
            out.append(ResolvedObservation(row.ticker, ts, bid, ask, close, results[row.ticker]))
        return out

    async def _market_results(self) -> dict[str, bool]:
        try:
            async with self.connection("reading market results") as conn:
                rows = (
                    await conn.exec_driver_sql("SELECT ticker, result FROM market_results")
                ).all()
        except StoreError:
            return {}  # before revision 0003 there is no results table
        return {
            str(t): str(r).lower() == "yes"
            for t, r in rows
            if r is not None and str(r).lower() in ("yes", "no")
        }


_CHUNK = 500  # tickers per IN list / rows per multi-row insert: well under bind-variable limits


def _calls(analysis: Analysis) -> int:
    # A skip made before any call (budget, unknown price) is a row, not a call.
    return 0 if analysis.metadata.get("call_made") is False else 1


def _stored(row: Mapping[Any, Any]) -> StoredAnalysis | None:
    try:
        meta = json.loads(row["metadata"]) if row["metadata"] else {}
    except ValueError:
        return None
    if not isinstance(meta, dict):
        return None
    raw_p = meta.get("probability_yes")
    try:
        decision = Decision(row["decision"]) if row["decision"] else Decision.SKIP
        probability = None if raw_p is None else Decimal(str(raw_p))
    except (ValueError, ArithmeticError):
        return None
    analysis = Analysis(
        ticker=row["ticker"],
        probability_yes=probability,
        decision=decision,
        confidence=from_real(row["confidence"]) or ZERO,
        rationale=row["analysis_text"] or "",
        provider=row["ai_provider"],
        model=str(meta.get("model", "")),
        input_tokens=int(meta.get("input_tokens") or 0),
        output_tokens=int(meta.get("output_tokens") or 0),
        cost=from_real(row["cost"]) or ZERO,
        latency_ms=int(meta.get("latency_ms") or 0),
        error=meta.get("error"),
        metadata=meta,
    )
    return StoredAnalysis(analysis, parse_iso(row["timestamp"]))
