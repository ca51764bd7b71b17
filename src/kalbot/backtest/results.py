"""From a replay's outcome to the report: trades, metrics, forecast scores, attribution.

Everything here is a pure function of the outcome, so the same inputs give the same report
(``report_dict`` is what the JSON export writes, byte for byte).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol

from kalbot.backtest.forecast import Forecast, ForecastScore, score, score_by_category
from kalbot.backtest.metrics import EquityMetrics, TradeMetrics, equity_metrics, trade_metrics
from kalbot.backtest.replay import BacktestStore, UsedForecast
from kalbot.backtest.runner import ReplayOutcome
from kalbot.domain.market import MarketResult
from kalbot.domain.prices import ZERO

HOLDING_BUCKETS: tuple[tuple[str, timedelta], ...] = (
    ("<1h", timedelta(hours=1)),
    ("1h-6h", timedelta(hours=6)),
    ("6h-24h", timedelta(days=1)),
    ("1d-7d", timedelta(days=7)),
)


class ShownForecasts(Protocol):
    """An analyst that kept what it showed the strategy (recorded replay or a past run)."""

    @property
    def used(self) -> dict[tuple[str, datetime], UsedForecast]: ...


@dataclass(frozen=True, slots=True)
class Trade:
    """One closed positions row of the run (a partial close is a trade of its own)."""

    id: int
    ticker: str
    category: str
    side: str
    quantity: Decimal
    entry_time: datetime
    entry_price: Decimal
    exit_time: datetime
    exit_price: Decimal
    fees: Decimal  # entry and exit fees of this row: quantity*(exit-entry) - pnl
    pnl: Decimal  # after fees
    close_reason: str
    reason: str

    @property
    def holding(self) -> timedelta:
        return self.exit_time - self.entry_time


@dataclass(frozen=True, slots=True)
class Group:
    key: str
    trades: int
    wins: int
    pnl: Decimal
    fees: Decimal


@dataclass(frozen=True, slots=True)
class BacktestReport:
    meta: dict[str, Any]
    equity_metrics: EquityMetrics
    trade_metrics: TradeMetrics
    trades: tuple[Trade, ...]
    equity: tuple[Any, ...]
    open_at_end: tuple[Any, ...]
    refusals: dict[str, int]
    forecast: ForecastScore | None
    forecast_by_category: dict[str, ForecastScore]
    attribution: dict[str, tuple[Group, ...]]
    top_markets: tuple[Group, ...]
    worst_markets: tuple[Group, ...]
    # every decision row by ``stage:outcome:reason``, most frequent first (why no trade)
    decisions: dict[str, int]


def trades_of(store: BacktestStore, categories: dict[str, str]) -> list[Trade]:
    out: list[Trade] = []
    for pid, row in sorted(store.positions.items()):
        if row["status"] != "closed":
            continue
        qty, entry, exit_ = (
            Decimal(str(row[k])) for k in ("quantity", "entry_price", "exit_price")
        )
        pnl = row["pnl"]
        assert isinstance(pnl, Decimal)
        et, xt = row["entry_time"], row["exit_time"]
        assert isinstance(et, datetime) and isinstance(xt, datetime)
        ticker = str(row["ticker"])
        out.append(
            Trade(
                pid, ticker, categories.get(ticker, ""), str(row["side"]), qty, et, entry, xt,
                exit_, qty * (exit_ - entry) - pnl, pnl, str(row["close_reason"]),
                str(row.get("reason") or ""),
            )
        )  # fmt: skip
    out.sort(key=lambda t: (t.exit_time, t.entry_time, t.ticker, t.id))
    return out


def holding_bucket(h: timedelta) -> str:
    for name, limit in HOLDING_BUCKETS:
        if h < limit:
            return name
    return ">7d"


def _groups(trades: Iterable[Trade], key: Any) -> tuple[Group, ...]:
    acc: dict[str, list[Trade]] = defaultdict(list)
    for t in trades:
        acc[str(key(t)) or "uncategorized"].append(t)
    return tuple(
        Group(
            k,
            len(v),
            sum(1 for t in v if t.pnl > 0),
            sum((t.pnl for t in v), ZERO),
            sum((t.fees for t in v), ZERO),
        )
        for k, v in sorted(acc.items())
    )


def forecasts_of(analyst: ShownForecasts | None, outcome: ReplayOutcome) -> list[Forecast]:
    """Every analysis the strategy saw (once per analysis), on markets that resolved YES or NO."""
    if analyst is None:
        return []
    out: list[Forecast] = []
    for (ticker, _), u in sorted(analyst.used.items()):
        result = outcome.results.get(ticker)
        if result is None:
            continue
        out.append(
            Forecast(
                ticker, u.category or outcome.categories.get(ticker, ""), float(u.probability),
                float(u.market_mid), result is MarketResult.YES,
            )
        )  # fmt: skip
    return out


def build_report(
    outcome: ReplayOutcome,
    store: BacktestStore,
    analyst: ShownForecasts | None,
    meta: dict[str, Any],
) -> BacktestReport:
    trades = trades_of(store, outcome.categories)
    eq = equity_metrics([(p.ts, p.equity) for p in outcome.equity])
    tm = trade_metrics(
        [t.pnl for t in trades], [t.holding for t in trades], [t.fees for t in trades]
    )
    forecasts = forecasts_of(analyst, outcome)
    by_market = _groups(trades, lambda t: t.ticker)
    ranked = sorted(by_market, key=lambda g: (-g.pnl, g.key))
    meta = dict(meta)
    meta.update(snapshots=outcome.snapshots, cycles=outcome.cycles, markets=outcome.markets)
    return BacktestReport(
        meta=meta,
        equity_metrics=eq,
        trade_metrics=tm,
        trades=tuple(trades),
        equity=tuple(outcome.equity),
        open_at_end=tuple(outcome.open_at_end),
        refusals=store.refusals(),
        decisions=store.decision_counts(),
        forecast=score(forecasts) if forecasts else None,
        forecast_by_category=score_by_category(forecasts) if forecasts else {},
        attribution={
            "category": _groups(trades, lambda t: t.category),
            "side": _groups(trades, lambda t: t.side),
            "holding": _groups(trades, lambda t: holding_bucket(t.holding)),
            "close_reason": _groups(trades, lambda t: t.close_reason),
        },
        top_markets=tuple(ranked[:5]),
        worst_markets=tuple(reversed(ranked[-5:])) if ranked else (),
    )


def plain(value: Any) -> Any:
    """JSON-ready: Decimals as exact strings, times ISO, non-finite floats as strings."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if is_dataclass(value) and not isinstance(value, type):
        d = {f: getattr(value, f) for f in value.__dataclass_fields__}
        if isinstance(value, Trade):
            d["holding_seconds"] = value.holding.total_seconds()
        if isinstance(value, ForecastScore):
            d["brier_skill"] = value.brier_skill
        return {k: plain(v) for k, v in d.items()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def report_dict(report: BacktestReport) -> dict[str, Any]:
    """Every number of the run, JSON-ready (the ``--export`` JSON)."""
    d = plain(report)
    assert isinstance(d, dict)
    return d


def trade_rows(trades: Sequence[Trade]) -> list[list[str]]:
    header = [
        "id", "ticker", "category", "side", "quantity", "entry_time", "entry_price",
        "exit_time", "exit_price", "fees", "pnl", "close_reason", "holding_seconds", "reason",
    ]  # fmt: skip
    rows = [header]
    for t in trades:
        rows.append(
            [
                str(t.id), t.ticker, t.category, t.side, str(t.quantity), t.entry_time.isoformat(),
                str(t.entry_price), t.exit_time.isoformat(), str(t.exit_price), str(t.fees),
                str(t.pnl), t.close_reason, str(int(t.holding.total_seconds())), t.reason,
            ]
        )  # fmt: skip
    return rows


__all__ = ["BacktestReport", "Trade", "asdict", "build_report", "report_dict", "trade_rows"]
