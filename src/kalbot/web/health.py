"""``/health``: is the bot alive and able to trade? One check per concern, each with a reason.

Unhealthy when the database cannot be read, the last cycle is too old (or none ran), the
exchange does not answer, or the risk manager has HALTED trading. ``kalbot health`` runs the
same function and exits non-zero in the same cases.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from kalbot.web import engine_views
from kalbot.web.db import DatabaseUnavailable
from kalbot.web.models import Health, HealthCheck
from kalbot.web.reader import Reader

ExchangeProbe = Callable[[], Awaitable[str]]
"""Asks the exchange whether it is up; returns a short detail, raises when unreachable."""


@dataclass
class ProbeStats:
    """What the dashboard itself observed of the exchange (exported on /metrics)."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    requests: int = 0

    def drain(self) -> list[float]:
        out, self.latencies = self.latencies, []
        return out


async def check_health(
    reader: Reader, probe: ExchangeProbe | None, stats: ProbeStats | None = None
) -> Health:
    checks: list[HealthCheck] = []
    db_ok = True
    try:
        await reader.ping()
        checks.append(HealthCheck(name="database", ok=True, detail="reachable"))
    except DatabaseUnavailable as e:
        db_ok = False
        checks.append(HealthCheck(name="database", ok=False, detail=str(e)))
    if db_ok:
        try:
            checks.extend(await _engine_checks(reader))
        except DatabaseUnavailable as e:
            checks.append(HealthCheck(name="last_cycle", ok=False, detail=str(e)))
    checks.append(await _exchange_check(probe, stats))
    return Health(healthy=all(c.ok for c in checks), checks=checks)


async def _engine_checks(reader: Reader) -> list[HealthCheck]:
    limit = reader.config.max_cycle_age_seconds
    async with reader.connect() as conn:
        cycle = await engine_views.last_cycle(conn, reader.catalog, reader.clock.now())
        risk = await engine_views.current_risk(conn, reader.catalog)
    if cycle is None:
        cycle_check = HealthCheck(name="last_cycle", ok=False, detail="no trading cycle recorded")
    else:
        age = cycle.info.age_seconds
        cycle_check = HealthCheck(
            name="last_cycle",
            ok=age <= limit,
            detail=f"{age:.0f}s ago (limit {limit}s) at {cycle.info.time.isoformat()}",
        )
    state = risk[0] if risk else (cycle.risk_state if cycle else None)
    if state is None:
        risk_check = HealthCheck(name="risk_state", ok=True, detail="not recorded yet")
    else:
        reason = f" ({risk[1]})" if risk and risk[1] else ""
        risk_check = HealthCheck(name="risk_state", ok=state != "HALTED", detail=state + reason)
    return [cycle_check, risk_check]


async def _exchange_check(probe: ExchangeProbe | None, stats: ProbeStats | None) -> HealthCheck:
    if probe is None:
        return HealthCheck(name="exchange", ok=True, detail="not checked (check disabled)")
    start = time.perf_counter()
    try:
        detail = await probe()
    except Exception as e:  # any failure to reach the exchange is the answer, not a crash
        if stats is not None:
            stats.requests += 1
            stats.errors += 1
        return HealthCheck(name="exchange", ok=False, detail=f"{type(e).__name__}: {e}"[:300])
    elapsed = time.perf_counter() - start
    if stats is not None:
        stats.requests += 1
        stats.latencies.append(elapsed)
    return HealthCheck(name="exchange", ok=True, detail=f"{detail} ({elapsed * 1000:.0f} ms)")
