"""Golden backtests: a tiny fixed history whose every number is computed by hand.

Fees are Kalshi's taker fee ceil_to_cent(0.07 * C * P * (1 - P)):
10 @ 0.50 -> 0.175 -> $0.18;  10 @ 0.40 -> 0.168 -> $0.17;  4 @ 0.50 -> 0.07 -> $0.07.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

from backtest import golden
from backtest.golden import CLOSE, END, T0
from kalbot.adapters.store.repository import Repository
from kalbot.backtest.results import BacktestReport, report_dict, trade_rows
from kalbot.backtest.runner import NoData
from kalbot.backtest_app import BacktestSpec, run_backtest

D = Decimal


async def _run(url: str, ms: list[golden.GoldenMarket] | None = None) -> BacktestReport:
    repo = Repository(url)
    await repo.initialize()
    try:
        await golden.load(repo, ms if ms is not None else golden.markets())
        return await run_backtest(golden.settings(), repo, BacktestSpec(T0, END, D(1000)))
    finally:
        await repo.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> BacktestReport:
    """One run shared by the read-only checks (a run migrates a database: keep it to one)."""
    folder = tmp_path_factory.mktemp("golden")
    return asyncio.run(_run(f"sqlite+aiosqlite:///{folder / 'kalbot.db'}"))


async def test_yes_and_no_trades_settled_both_ways_to_the_cent(report: BacktestReport) -> None:
    t = {x.ticker: x for x in report.trades}
    expected = {
        # ticker: (side, qty, entry, exit, fees, pnl, close_reason)
        "GLD-A": ("yes", D(10), D("0.50"), D(1), D("0.18"), D("4.82"), "settled_yes"),
        "GLD-B": ("yes", D(10), D("0.50"), D(0), D("0.18"), D("-5.18"), "settled_no"),
        "GLD-C": ("no", D(10), D("0.50"), D(1), D("0.18"), D("4.82"), "settled_no"),
        "GLD-D": ("no", D(10), D("0.50"), D(0), D("0.18"), D("-5.18"), "settled_yes"),
    }
    for ticker, (side, qty, entry, exit_, fees, pnl, why) in expected.items():
        tr = t[ticker]
        assert (tr.side, tr.quantity, tr.close_reason) == (side, qty, why), ticker
        assert tr.entry_price == entry and tr.exit_price == exit_, ticker
        assert tr.fees == fees and tr.pnl == pnl, ticker
        assert tr.entry_time == T0
        assert tr.exit_time >= CLOSE


async def test_stop_loss_sells_at_the_bid(report: BacktestReport) -> None:
    tr = {x.ticker: x for x in report.trades}["GLD-E"]
    # entered 10 YES @ 0.50 at T0; at T0+2h the bid is 0.40: return -20% <= -15%
    assert tr.close_reason == "stop_loss"
    assert (tr.entry_price, tr.exit_price) == (D("0.50"), D("0.40"))
    assert tr.fees == D("0.35")  # 0.18 entry + 0.17 exit
    assert tr.pnl == D("-1.35")  # 10 * (0.40 - 0.50) - 0.35
    assert tr.exit_time == golden.T0.replace(hour=14)


async def test_partial_fill_takes_only_the_recorded_size(report: BacktestReport) -> None:
    tr = {x.ticker: x for x in report.trades}["GLD-F"]
    assert tr.quantity == D(4)  # the ask showed 4 of the 10 wanted; IOC rest canceled
    assert tr.fees == D("0.07")
    assert tr.pnl == D("1.93")  # 4 * (1 - 0.50) - 0.07


async def test_totals_and_equity(report: BacktestReport) -> None:
    tm = report.trade_metrics
    assert tm.trades == 6
    assert tm.wins == 3 and tm.losses == 3
    assert tm.total_pnl == D("-0.14")  # 4.82 - 5.18 + 4.82 - 5.18 - 1.35 + 1.93
    assert tm.fees == D("1.14")
    assert tm.best_trade == D("4.82") and tm.worst_trade == D("-5.18")
    em = report.equity_metrics
    assert em.start_equity == D(1000)
    assert em.final_equity == D("999.86")
    assert report.open_at_end == ()
    sides = {g.key: g for g in report.attribution["side"]}
    assert sides["yes"].trades == 4 and sides["no"].trades == 2
    assert sides["no"].pnl == D("-0.36")


async def test_forecasts_scored_against_the_market_mid(report: BacktestReport) -> None:
    f = report.forecast
    assert f is not None
    assert f.count == 6
    # analyst: 0.8 on A(yes) B(no) E(no) F(yes); 0.2 on C(no) D(yes)
    # (0.04 + 0.64 + 0.64 + 0.04 + 0.04 + 0.64) / 6
    assert f.brier == pytest.approx(2.04 / 6)
    # market mids: 0.49 (A, B, E, F), 0.51 (C, D)
    m = (0.51**2 + 0.49**2 + 0.49**2 + 0.51**2 + 0.51**2 + 0.49**2) / 6
    assert f.market_brier == pytest.approx(m)
    assert set(report.forecast_by_category) == {golden.CATEGORY}


async def test_open_positions_at_the_end_are_marked_at_the_bid(sqlite_url: str) -> None:
    ms = [golden.GoldenMarket("GLD-O", None, "0.80", golden.flat(0.48, 0.50))]  # no result
    rep = await _run(sqlite_url, ms)
    assert rep.trades == ()
    (pos,) = rep.open_at_end
    assert (pos.ticker, pos.side.value, pos.quantity, pos.bid) == ("GLD-O", "yes", D(10), D("0.48"))
    assert pos.value == D("4.80")
    assert pos.unrealized_pnl == D("-0.38")  # 4.80 - 5.00 - 0.18
    assert rep.equity_metrics.final_equity == D("999.62")  # 1000 - 5.18 cash + 4.80 marked


async def test_deterministic_byte_identical(tmp_path: Path) -> None:
    from kalbot.backtest_report import export

    outs = []
    for i in range(2):
        rep = await _run(f"sqlite+aiosqlite:///{tmp_path / f'run{i}.db'}")
        folder = tmp_path / f"x{i}"
        export(rep, folder)
        outs.append(
            (
                json.dumps(report_dict(rep), sort_keys=True),
                trade_rows(rep.trades),
                {p.name: p.read_bytes() for p in sorted(folder.iterdir())},
            )
        )
    assert outs[0] == outs[1]
    files = outs[0][2]
    assert set(files) >= {"report.json", "trades.csv", "equity.csv", "summary.md", "report.html"}
    assert b"data:image/png;base64," in files["report.html"]
    assert b"http" not in files["report.html"].replace(b"http-equiv", b"")


async def test_no_data_is_a_clear_error_never_invented(sqlite_url: str) -> None:
    repo = Repository(sqlite_url)
    await repo.initialize()
    try:
        with pytest.raises(NoData, match="no snapshots between"):
            await run_backtest(golden.settings(), repo, BacktestSpec(T0, END, D(1000)))
    finally:
        await repo.close()


async def test_a_void_result_refunds_the_entry_and_loses_only_the_fee(sqlite_url: str) -> None:
    ms = [golden.GoldenMarket("GLD-V", "void", "0.80", golden.flat(0.48, 0.50))]
    rep = await _run(sqlite_url, ms)
    (tr,) = rep.trades
    assert (tr.ticker, tr.side, tr.quantity, tr.close_reason) == (
        "GLD-V",
        "yes",
        D(10),
        "settled_void",
    )
    assert tr.entry_price == tr.exit_price == D("0.50")
    assert tr.fees == D("0.18") and tr.pnl == D("-0.18")
    assert tr.exit_time >= CLOSE and rep.open_at_end == ()
    assert rep.equity_metrics.final_equity == D("999.82")
