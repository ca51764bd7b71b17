"""``/metrics`` in Prometheus text format, through the official ``prometheus_client``.

The numbers come from the database at scrape time (so any number of trader, recorder and
dashboard processes agree), except the exchange latencies and errors the dashboard's own health
probe observes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import select

from kalbot.adapters.store.tables import ai_cost_tracking
from kalbot.web import engine_views
from kalbot.web.db import DatabaseUnavailable, dec0
from kalbot.web.health import ProbeStats
from kalbot.web.reader import Reader


@dataclass
class Snapshot:
    database_up: bool = False
    gauges: dict[str, tuple[str, float]] = field(default_factory=dict)
    labelled: dict[str, tuple[str, str, dict[str, float], bool]] = field(default_factory=dict)


class _DatabaseCollector(Collector):
    def __init__(self) -> None:
        self.snapshot = Snapshot()

    def collect(self) -> Iterable[Metric]:
        s = self.snapshot
        up = GaugeMetricFamily("kalbot_database_up", "1 when the database answered this scrape")
        up.add_metric([], 1.0 if s.database_up else 0.0)
        yield up
        for name, (doc, value) in sorted(s.gauges.items()):
            if name.endswith("_total"):
                c = CounterMetricFamily(name.removesuffix("_total"), doc)
                c.add_metric([], value)
                yield c
            else:
                g = GaugeMetricFamily(name, doc)
                g.add_metric([], value)
                yield g
        for name, (doc, label, values, counter) in sorted(s.labelled.items()):
            fam: Metric
            if counter:
                fam = CounterMetricFamily(name.removesuffix("_total"), doc, labels=[label])
            else:
                fam = GaugeMetricFamily(name, doc, labels=[label])
            for key, v in sorted(values.items()):
                fam.add_metric([key], v)
            yield fam


class Metrics:
    """One registry per app: the database collector plus the probe's own observations."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._db = _DatabaseCollector()
        self.registry.register(self._db)
        self.latency = Histogram(
            "kalbot_exchange_request_seconds",
            "Latency of the dashboard's exchange status requests",
            registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.errors = Counter(
            "kalbot_exchange_request_errors",
            "Exchange status requests from the dashboard that failed",
            registry=self.registry,
        )
        self._errors_seen = 0

    async def render(self, reader: Reader, stats: ProbeStats) -> bytes:
        for seconds in stats.drain():
            self.latency.observe(seconds)
        if stats.errors > self._errors_seen:
            self.errors.inc(stats.errors - self._errors_seen)
            self._errors_seen = stats.errors
        try:
            self._db.snapshot = await gather(reader)
        except DatabaseUnavailable:
            self._db.snapshot = Snapshot(database_up=False)
        return generate_latest(self.registry)


def _f(d: Decimal | None) -> float:
    return float(d) if d is not None else float("nan")


async def gather(reader: Reader) -> Snapshot:
    status = await reader.status()
    snap = Snapshot(database_up=True)
    g = snap.gauges
    g["kalbot_open_positions"] = ("Open positions", float(status.open_positions))
    g["kalbot_open_exposure_dollars"] = (
        "Cost basis of open positions in dollars",
        _f(status.open_exposure),
    )
    if status.unrealised_pnl is not None:
        g["kalbot_unrealised_pnl_dollars"] = (
            "Unrealised P&L of marked open positions (side's own bid)",
            _f(status.unrealised_pnl),
        )
    if status.portfolio_value is not None:
        g["kalbot_portfolio_value_dollars"] = ("Portfolio value", _f(status.portfolio_value))
    g["kalbot_ai_budget_dollars"] = (
        "Daily AI budget in force (the database override if set, else the config)",
        _f(status.ai_budget),
    )
    g["kalbot_ai_budget_override"] = (
        "1 when the daily AI budget is a database override (kalbot ai budget --set), else 0",
        1.0 if status.ai_budget_source == "override" else 0.0,
    )
    g["kalbot_ai_spend_today_dollars"] = ("AI spend today (UTC)", _f(status.ai_spend_today))
    if status.last_cycle is not None:
        g["kalbot_last_cycle_age_seconds"] = (
            "Seconds since the last trading cycle",
            status.last_cycle.age_seconds,
        )
    snap.labelled["kalbot_realised_pnl_dollars"] = (
        "Realised P&L of closed positions",
        "span",
        {
            "today": _f(status.pnl_today),
            "week": _f(status.pnl_week),
            "all_time": _f(status.pnl_all_time),
        },
        False,
    )
    if status.risk_state is not None:
        snap.labelled["kalbot_risk_state"] = (
            "1 for the current risk state",
            "state",
            {s: float(s == status.risk_state) for s in ("ACTIVE", "REDUCING", "HALTED")},
            False,
        )
    async with reader.connect() as conn:
        cat = reader.catalog
        for table, metric, doc, by in (
            ("cycles", "kalbot_cycles_total", "Trading cycles run", None),
            ("fills", "kalbot_fills_total", "Fills confirmed", None),
            ("orders", "kalbot_orders_total", "Orders sent, by status", "status"),
        ):
            counts = await engine_views.count_rows(conn, cat, table, by)
            if counts is None:
                continue
            if by is None:
                g[metric] = (doc, float(counts.get("", 0)))
            else:
                values = {k: float(v) for k, v in counts.items()}
                snap.labelled[metric] = (doc, by, values, True)
        errors = await engine_views.cycle_errors(conn, cat)
        if errors is not None:
            g["kalbot_cycle_errors_total"] = ("Errors the engine counted in its cycles", errors)
        refusals = await engine_views.refusal_counts(conn, cat, None)
        if refusals is not None:
            snap.labelled["kalbot_refusals_total"] = (
                "Refusals and skips, by reason code",
                "reason",
                {r.reason: float(r.count) for r in refusals},
                True,
            )
        if reader.spec_ready:
            t = ai_cost_tracking.c
            rows = (await conn.execute(select(t.provider, t.total_cost, t.num_calls))).all()
            spend: dict[str, Decimal] = {}
            calls: dict[str, float] = {}
            for r in rows:
                spend[r.provider] = spend.get(r.provider, Decimal(0)) + dec0(r.total_cost)
                calls[r.provider] = calls.get(r.provider, 0.0) + float(r.num_calls)
            snap.labelled["kalbot_ai_spend_dollars_total"] = (
                "AI spend by provider, all time",
                "provider",
                {k: float(v) for k, v in spend.items()},
                True,
            )
            snap.labelled["kalbot_ai_calls_total"] = (
                "AI calls by provider, all time",
                "provider",
                calls,
                True,
            )
    return snap
