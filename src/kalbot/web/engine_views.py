"""Read queries over the trading engine's own tables (cycles, decision_log, risk_events, orders,
fills), each answering "not recorded" when the table does not exist yet.

The columns are those of the engine's revision 0003; a query only touches a column the
reflected table actually has.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, desc, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kalbot.web.db import Catalog, dec
from kalbot.web.models import CycleInfo, ReasonCount, RefusalRow
from kalbot.web.timeutil import DayRange, parse_stored_time

ENGINE_TABLES = ("cycles", "decision_log", "risk_events", "orders", "fills", "market_results")

# decision_log outcomes that mean "the bot did not do it" (approved/ordered/filled/closed did).
REFUSAL_OUTCOMES = ("rejected", "skipped", "refused", "shrunk", "error")


@dataclass(frozen=True, slots=True)
class LastCycle:
    info: CycleInfo
    mode: str | None
    cash: Decimal | None
    equity: Decimal | None
    risk_state: str | None


def _cycle_summary(d: dict[str, Any]) -> str:
    parts: list[str] = []
    for key, label in (
        ("markets_seen", "seen"),
        ("analysed", "analysed"),
        ("orders", "orders"),
        ("fills", "fills"),
        ("open_positions", "open"),
        ("errors", "errors"),
    ):
        if d.get(key) is not None:
            parts.append(f"{d[key]} {label}")
    screened = d.get("screened_out")
    if isinstance(screened, dict) and screened:
        parts.append(f"{sum(int(v) for v in screened.values())} screened out")
    if d.get("strategy"):
        parts.append(f"strategy {d['strategy']}")
    return ", ".join(parts) if parts else "cycle recorded"


def _jsonable(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


async def last_cycle(conn: AsyncConnection, catalog: Catalog, now: datetime) -> LastCycle | None:
    cycles = catalog.table("cycles")
    if cycles is None:
        return None
    order = cycles.c.id if "id" in cycles.c else next(iter(cycles.c))
    r = (await conn.execute(select(cycles).order_by(desc(order)).limit(1))).mappings().first()
    if r is None:
        return None
    d = dict(r)
    if isinstance(d.get("screened_out"), str):
        with contextlib.suppress(ValueError):
            d["screened_out"] = json.loads(d["screened_out"])
    when = parse_stored_time(d.get("finished_at")) or parse_stored_time(d.get("started_at"))
    if when is None:
        return None
    info = CycleInfo(
        time=when,
        age_seconds=max(0.0, (now - when).total_seconds()),
        summary=_cycle_summary(d),
        details={k: _jsonable(v) for k, v in d.items()},
    )
    return LastCycle(
        info=info,
        mode=None if d.get("mode") is None else str(d["mode"]),
        cash=dec(d.get("cash")),
        equity=dec(d.get("equity")),
        risk_state=None if d.get("risk_state") is None else str(d["risk_state"]),
    )


async def current_risk(conn: AsyncConnection, catalog: Catalog) -> tuple[str, str | None] | None:
    """The latest risk state change: (state, reason code)."""
    events = catalog.table("risk_events")
    if events is None or "state" not in events.c:
        return None
    order = [desc(events.c.ts)] if "ts" in events.c else []
    if "id" in events.c:
        order.append(desc(events.c.id))
    r = (await conn.execute(select(events).order_by(*order).limit(1))).mappings().first()
    if r is None:
        return None
    reason = r.get("reason_code")
    return str(r["state"]), None if reason is None else str(reason)


def _refusal_where(log: Any, span: DayRange | None) -> Any:
    conds = []
    if "outcome" in log.c:
        conds.append(log.c.outcome.in_(REFUSAL_OUTCOMES))
    if span is not None and "ts" in log.c:
        conds.append(and_(log.c.ts >= span.start, log.c.ts < span.end))
    return and_(*conds) if conds else None


async def refusal_counts(
    conn: AsyncConnection, catalog: Catalog, span: DayRange | None
) -> list[ReasonCount] | None:
    """Refusals (and skips, rejections) by reason code; None when nothing records them."""
    log = catalog.table("decision_log")
    if log is None or "reason_code" not in log.c:
        return None
    stmt = select(log.c.reason_code, func.count().label("n")).group_by(log.c.reason_code)
    where = _refusal_where(log, span)
    if where is not None:
        stmt = stmt.where(where)
    rows = (await conn.execute(stmt)).all()
    counts = [ReasonCount(reason=str(r.reason_code), count=int(r.n)) for r in rows]
    return sorted(counts, key=lambda c: (-c.count, c.reason))


async def recent_refusals(
    conn: AsyncConnection, catalog: Catalog, span: DayRange | None, limit: int
) -> list[RefusalRow]:
    log = catalog.table("decision_log")
    if log is None or "reason_code" not in log.c:
        return []
    stmt = select(log)
    where = _refusal_where(log, span)
    if where is not None:
        stmt = stmt.where(where)
    order = [desc(log.c.ts)] if "ts" in log.c else []
    if "id" in log.c:
        order.append(desc(log.c.id))
    rows = (await conn.execute(stmt.order_by(*order).limit(limit))).mappings().all()
    out = []
    for r in rows:
        detail = r.get("detail")
        stage = r.get("stage")
        if stage:
            detail = f"[{stage}] {detail}" if detail else f"[{stage}]"
        out.append(
            RefusalRow(
                time=str(r.get("ts") or ""),
                ticker=r.get("ticker"),
                reason=str(r["reason_code"]),
                detail=detail,
            )
        )
    return out


async def count_rows(
    conn: AsyncConnection, catalog: Catalog, table: str, group_by: str | None = None
) -> dict[str, int] | None:
    """Row counts of an engine table, optionally per value of one column."""
    t = catalog.table(table)
    if t is None:
        return None
    if group_by is None or group_by not in t.c:
        return {"": int((await conn.execute(select(func.count()).select_from(t))).scalar_one())}
    rows = (await conn.execute(select(t.c[group_by], func.count()).group_by(t.c[group_by]))).all()
    return {str(k): int(n) for k, n in rows}


async def cycle_errors(conn: AsyncConnection, catalog: Catalog) -> int | None:
    cycles = catalog.table("cycles")
    if cycles is None or "errors" not in cycles.c:
        return None
    total = (await conn.execute(select(func.sum(cycles.c.errors)))).scalar_one()
    return int(total or 0)
