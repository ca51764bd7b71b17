"""The dashboard's charts: which numbers go on which axis (drawing is in ``charts``)."""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup

from kalbot.web.charts import DOWN, UP, Axis, Marker, Series, bar_chart, line_chart
from kalbot.web.models import MarketDetail, Performance
from kalbot.web.timeutil import parse_stored_time

BLUE = "#0969da"
ORANGE = "#bc4c00"
GREY = "#8c959f"


def _ts(value: str) -> float | None:
    dt = parse_stored_time(value if "T" in value or " " in value else f"{value}T00:00:00Z")
    return dt.timestamp() if dt is not None else None


def _day_label(x: float) -> str:
    return datetime.fromtimestamp(x, UTC).strftime("%Y-%m-%d")


def _time_label(x: float) -> str:
    return datetime.fromtimestamp(x, UTC).strftime("%m-%d %H:%M")


def _money(v: float) -> str:
    return f"−${abs(v):,.0f}" if v < 0 else f"${v:,.0f}"


def equity(perf: Performance) -> Markup:
    pts = [(x, d.portfolio_value) for d in perf.days if (x := _ts(d.date)) is not None]
    return line_chart(
        "Equity curve (portfolio value by day)",
        [Series("portfolio value", pts, BLUE)],
        Axis(fmt=_money, x_fmt=_day_label, width=1200, height=300),
    )


def daily_pnl(perf: Performance) -> Markup:
    return bar_chart(
        "Daily realised P&L",
        [(d.date, d.pnl) for d in perf.daily_pnl],
        fmt=lambda v: f"−${abs(v):,.2f}" if v < 0 else f"${v:,.2f}",
        width=600,
        height=280,
    )


def drawdown(perf: Performance) -> Markup:
    pts = [(x, -d.drawdown * 100) for d in perf.days if (x := _ts(d.date)) is not None]
    return line_chart(
        "Drawdown from the equity peak (%)",
        [Series("drawdown", pts, DOWN)],
        Axis(fmt=lambda v: f"{v:.2f}%", x_fmt=_day_label, hi=0.0, width=600, height=280),
        area=True,
    )


def market_prices(m: MarketDetail) -> Markup:
    """YES bid/ask/last over time; the bot's trades marked at their YES-equivalent price."""
    bid, ask, last = [], [], []
    for p in m.points:
        x = _ts(p.time)
        if x is None:
            continue
        bid.append((x, p.yes_bid))
        ask.append((x, p.yes_ask))
        last.append((x, p.last_price))
    markers = []
    for t in m.trades:
        x = _ts(t.time)
        if x is None:
            continue
        label = (
            f"{t.kind} {t.side.upper()} {t.quantity} @ ${t.price} "
            f"(YES ${t.yes_price}) — position #{t.position_id}"
        )
        markers.append(
            Marker(x, t.yes_price, label, UP if t.side == "yes" else DOWN, up=t.kind == "entry")
        )
    return line_chart(
        f"{m.ticker}: YES price",
        [
            Series("YES bid", bid, BLUE),
            Series("YES ask", ask, ORANGE),
            Series("last", last, GREY, dashed=True),
        ],
        Axis(fmt=lambda v: f"${v:.2f}", x_fmt=_time_label, lo=0.0, hi=1.0, width=1200, height=360),
        markers=markers,
    )
