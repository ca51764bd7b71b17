"""Rendering of a backtest report: Rich tables, and the ``--export DIR`` files.

Outside the inner packages because it draws with matplotlib (Agg backend, no display needed)
and prints with Rich. Files: report.json (every number), trades.csv, equity.csv, summary.md,
equity.png, drawdown.png, calibration.png and report.html (charts embedded as data URIs, so the
page opens with no network).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from kalbot.backtest.results import BacktestReport, report_dict, trade_rows

KEY_METRICS: tuple[tuple[str, str], ...] = (
    ("equity_metrics.start_equity", "start equity"),
    ("equity_metrics.final_equity", "final equity"),
    ("equity_metrics.total_return", "total return"),
    ("equity_metrics.annualized_return", "annualised return"),
    ("equity_metrics.sharpe", "Sharpe"),
    ("equity_metrics.sortino", "Sortino"),
    ("equity_metrics.calmar", "Calmar"),
    ("equity_metrics.volatility", "volatility"),
    ("equity_metrics.max_drawdown.depth", "max drawdown"),
    ("equity_metrics.max_drawdown.peak_time", "drawdown start"),
    ("equity_metrics.max_drawdown.trough_time", "drawdown trough"),
    ("trade_metrics.trades", "trades"),
    ("trade_metrics.win_rate", "win rate"),
    ("trade_metrics.profit_factor", "profit factor"),
    ("trade_metrics.expectancy", "expectancy"),
    ("trade_metrics.average_win", "average win"),
    ("trade_metrics.average_loss", "average loss"),
    ("trade_metrics.best_trade", "best trade"),
    ("trade_metrics.worst_trade", "worst trade"),
    ("trade_metrics.average_holding", "average holding (s)"),
    ("trade_metrics.fees", "fees paid"),
    ("trade_metrics.total_pnl", "realised P&L"),
    ("forecast.brier", "Brier (analyst)"),
    ("forecast.market_brier", "Brier (market mid)"),
    ("forecast.log_loss", "log loss (analyst)"),
    ("forecast.market_log_loss", "log loss (market mid)"),
    ("forecast.count", "forecasts scored"),
)


DECISIONS_SHOWN = 10  # the terminal shows the most frequent; the exports show all


def lookup(d: dict[str, Any], dotted: str) -> Any:
    cur: Any = d
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, str):
        try:
            from decimal import Decimal

            d = Decimal(value)
            return f"{d:.4f}" if d.as_tuple().exponent < -4 else value  # type: ignore[operator]
        except ArithmeticError:
            return value
    return str(value)


def analyst_line(meta: dict[str, Any]) -> str:
    """For an analyst run over the past: which, its paid calls and what they cost."""
    if not meta.get("analyst_run_over_past"):
        return ""
    if not meta.get("analyst_paid"):
        return f"Analyst: {meta['analyst']} run over the past; cost $0 (free, no budget used)"
    errors = meta.get("ai_errors") or {}
    failed = f"; {sum(errors.values())} failed calls or skips" if errors else ""
    reused = (
        f"; {meta['ai_reused']} analyses reused from earlier backtests (paid "
        f"${meta['ai_reused_cost']} then, not again)"
        if meta.get("ai_reused")
        else ""
    )
    return (
        f"Analyst: {meta['analyst']} RUN OVER THE PAST; {meta['ai_calls']} paid calls cost "
        f"${meta['ai_cost']}, booked in {meta['ai_cost_booked_as']}{reused}{failed}. "
        "The model may know outcomes after its training cutoff: read its results as optimistic"
    )


def print_report(console: Console, report: BacktestReport) -> None:
    d = report_dict(report)
    m = d["meta"]
    console.print(
        f"backtest {m['start']} .. {m['end']}: strategy {m['strategy']}, fill model "
        f"{m['fill_model']}, analyses {m['analyses']}; {m['snapshots']:,} snapshots, "
        f"{m['markets']} markets, {m['cycles']} cycles",
        highlight=False,
    )
    line = analyst_line(m)
    if line:
        console.print(line, highlight=False)
    if m.get("stopped"):
        console.print(f"[bold red]{m['stopped']}[/]", highlight=False)
    t = Table(title="Metrics")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for key, label in KEY_METRICS:
        t.add_row(label, fmt(lookup(d, key)))
    console.print(t)
    if report.refusals:
        r = Table(title="Trades refused or shrunk, by reason")
        r.add_column("reason")
        r.add_column("count", justify="right")
        for k, v in report.refusals.items():
            r.add_row(k, str(v))
        console.print(r)
    if report.decisions:
        shown = list(report.decisions.items())[:DECISIONS_SHOWN]
        w = Table(title=f"Decisions by stage, outcome and reason (top {len(shown)})")
        w.add_column("stage:outcome:reason")
        w.add_column("count", justify="right")
        for k, v in shown:
            w.add_row(k, f"{v:,}")
        console.print(w)
    if report.trade_metrics.trades == 0 and report.decisions:
        top = next(iter(report.decisions))
        if top.endswith(":no_recorded_analysis"):
            console.print(
                "hint: no analysis was recorded for these markets by then, so replaying the "
                "recorded analyses cannot trade; --analyst heuristic runs the free analyst "
                "over the past (docs/backtesting.md)",
                highlight=False,
            )
    if not any(report.attribution.values()):
        console.print("Attribution: no closed trades to attribute.", highlight=False)
    for name, groups in report.attribution.items():
        if not groups:
            continue
        a = Table(title=f"Attribution by {name}")
        for col in ("key", "trades", "wins", "pnl", "fees"):
            a.add_column(col, justify="left" if col == "key" else "right")
        for g in groups:
            a.add_row(g.key, str(g.trades), str(g.wins), fmt(str(g.pnl)), fmt(str(g.fees)))
        console.print(a)
    if report.open_at_end:
        o = Table(title="Positions open at the end (marked at the bid)")
        for col in ("ticker", "side", "qty", "entry", "bid", "value", "unrealised"):
            o.add_column(col)
        for p in report.open_at_end:
            o.add_row(
                p.ticker, p.side.value, str(p.quantity), str(p.entry_price), str(p.bid),
                fmt(str(p.value)), fmt(str(p.unrealized_pnl)),
            )  # fmt: skip
        console.print(o)


# -- export ------------------------------------------------------------------------------
def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    # No timestamps in the PNG metadata: the same run gives the same bytes.
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    return buf.getvalue()


def charts(report: BacktestReport) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = [p.ts for p in report.equity]
    equity = [float(p.equity) for p in report.equity]
    out: dict[str, bytes] = {}
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.plot(times, equity, color="#1f77b4")
    ax.set_title("Equity")
    ax.set_ylabel("$")
    fig.autofmt_xdate()
    out["equity.png"] = _png(fig)
    plt.close(fig)

    peak = 0.0
    dd: list[float] = []
    for e in equity:
        peak = max(peak, e)
        dd.append(-(peak - e) / peak * 100 if peak > 0 else 0.0)
    fig, ax = plt.subplots(figsize=(8, 2.5))
    ax.fill_between(times, dd, 0, color="#d62728", alpha=0.5)
    ax.set_title("Drawdown (%)")
    fig.autofmt_xdate()
    out["drawdown.png"] = _png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    if report.forecast is not None:
        bins = [b for b in report.forecast.calibration if b.count]
        ax.plot([b.mean_forecast for b in bins], [b.observed_frequency for b in bins], marker="o")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("forecast P(YES)")
    ax.set_ylabel("observed frequency")
    ax.set_title("Calibration by decile")
    out["calibration.png"] = _png(fig)
    plt.close(fig)
    return out


def markdown(report: BacktestReport) -> str:
    d = report_dict(report)
    m = d["meta"]
    lines = [
        "# Backtest summary",
        "",
        f"- Range: {m['start']} .. {m['end']}",
        f"- Strategy: {m['strategy']}; fill model: {m['fill_model']}; analyses: {m['analyses']}",
        f"- Snapshots: {m['snapshots']}; markets: {m['markets']}; cycles: {m['cycles']}",
        f"- {analyst_line(m) or 'Analyst: ' + str(m.get('analyst', 'recorded'))}",
    ]
    if m.get("stopped"):
        lines += ["", f"**{m['stopped']}**"]
    lines += [
        "",
        "| metric | value |",
        "|---|---:|",
    ]
    lines += [f"| {label} | {fmt(lookup(d, key))} |" for key, label in KEY_METRICS]
    if report.decisions:
        lines += ["", "## Decisions by stage, outcome and reason", "", "| decision | count |"]
        lines += ["|---|---:|"] + [f"| {k} | {v} |" for k, v in report.decisions.items()]
    if report.refusals:
        lines += ["", "## Refused or shrunk trades", "", "| reason | count |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in report.refusals.items()]
    for name, groups in report.attribution.items():
        lines += ["", f"## By {name}", "", "| key | trades | wins | pnl | fees |"]
        lines.append("|---|---:|---:|---:|---:|")
        lines += [f"| {g.key} | {g.trades} | {g.wins} | {g.pnl} | {g.fees} |" for g in groups]
    if report.open_at_end:
        lines += ["", "## Open at the end (marked at the bid)", ""]
        lines += [
            "| ticker | side | qty | entry | bid | unrealised |",
            "|---|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {p.ticker} | {p.side.value} | {p.quantity} | {p.entry_price} | {p.bid} | {p.unrealized_pnl} |"  # noqa: E501
            for p in report.open_at_end
        ]
    return "\n".join(lines) + "\n"


def export(report: BacktestReport, folder: Path) -> list[Path]:
    """Write every export file into ``folder`` (created); returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, data: str | bytes) -> None:
        p = folder / name
        if isinstance(data, str):
            p.write_text(data, encoding="utf-8")
        else:
            p.write_bytes(data)
        written.append(p)

    put("report.json", json.dumps(report_dict(report), indent=2, sort_keys=True) + "\n")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(trade_rows(report.trades))
    put("trades.csv", buf.getvalue())
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["ts", "cash", "equity", "exposure", "open_positions"])
    for p in report.equity:
        w.writerow([p.ts.isoformat(), p.cash, p.equity, p.exposure, p.open_positions])
    put("equity.csv", buf.getvalue())
    md = markdown(report)
    put("summary.md", md)
    images = charts(report)
    for name, data in images.items():
        put(name, data)
    put("report.html", _html(md, images))
    return written


def _html(md: str, images: dict[str, bytes]) -> str:
    body: list[str] = []
    in_table = False
    for line in md.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-:"):
                continue
            if not in_table:
                body.append("<table>")
                in_table = True
            body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        if line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("- "):
            body.append(f"<p>{html.escape(line[2:])}</p>")
    if in_table:
        body.append("</table>")
    for name, data in images.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        body.append(f'<h2>{html.escape(name[:-4])}</h2><img alt="{name}" src="{uri}">')
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:auto}"
        "table{border-collapse:collapse}td{border:1px solid #ccc;padding:2px 8px}"
    )
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Backtest report</title>'
        f"<style>{style}</style></head><body>" + "\n".join(body) + "</body></html>\n"
    )


def compare(a: Path, b: Path) -> Table:
    """Two exported runs (their report.json) side by side."""
    da, db = (json.loads((p / "report.json").read_text(encoding="utf-8")) for p in (a, b))
    t = Table(title="Backtest comparison")
    t.add_column("metric")
    t.add_column(a.name or str(a), justify="right")
    t.add_column(b.name or str(b), justify="right")
    for label, key in (
        ("strategy", "meta.strategy"),
        ("fill model", "meta.fill_model"),
        ("analyst", "meta.analyst"),
        ("AI cost", "meta.ai_cost"),
    ):
        t.add_row(label, fmt(lookup(da, key)), fmt(lookup(db, key)))
    for key, label in KEY_METRICS:
        t.add_row(label, fmt(lookup(da, key)), fmt(lookup(db, key)))
    return t
