"""`kalbot backtest --analyst ...`: a model run over the past, through the official SDK against a
local OpenAI-compatible server on 127.0.0.1, under the same budget as live."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from backtest import golden
from backtest.golden import END, T0
from kalbot.adapters.llm.factory import PROVIDERS
from kalbot.adapters.store.repository import Repository
from kalbot.backtest.analysts import BudgetExhausted, parse_analyst
from kalbot.backtest_app import BacktestSpec, load_analyses, run_backtest
from kalbot.backtest_report import export, markdown, print_report
from kalbot.cli import register_commands
from kalbot.cli.apps import app
from kalbot.config import Settings, load_settings
from kalbot.domain.clock import ManualClock
from kalbot.domain.decisions import Decision
from llm.server import Reply, ScriptedServer, Seen, chat_completion, scripted_server

# "Today" for the budget: the money is spent now, whatever the replayed dates.
WALL = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
PROMPT_TOKENS, COMPLETION_TOKENS = 321, 45
PRICE_IN, PRICE_OUT = Decimal("2.50"), Decimal("10.00")
CALL_COST = (PROMPT_TOKENS * PRICE_IN + COMPLETION_TOKENS * PRICE_OUT) / Decimal(1_000_000)
P_YES = {m.ticker: m.p_yes for m in golden.markets()}


def _ticker(seen: Seen) -> str:
    user = seen.body["messages"][1]["content"]
    found = re.search(r"^Ticker: (\S+)$", user, re.M)
    assert found is not None, user
    return found.group(1)


def _answer(seen: Seen) -> Reply:
    reply = {
        "probability_yes": float(P_YES.get(_ticker(seen), "0.5")),
        "confidence": 0.9,
        "decision": "OPEN_YES",
        "rationale": "fake model",
    }
    return Reply(
        body=chat_completion(
            json.dumps(reply),
            model="gpt-test",
            prompt_tokens=PROMPT_TOKENS,
            completion_tokens=COMPLETION_TOKENS,
        )
    )


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as s:
        s.responder = _answer
        yield s


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    assert isinstance(url, str)
    return url


def _settings(server: ScriptedServer, budget: str = "10", **ai: Any) -> Settings:
    base = golden.settings()
    return load_settings(
        risk=base.risk.model_dump(),
        trading=base.trading.model_dump(),
        ai={
            "min_edge": "0.03",
            "min_confidence": "0.5",
            "openai_api_key": "sk-test-key",
            "base_urls": {"openai": f"{server.url}/v1"},
            "prices": {"gpt-test": {"input_per_mtok": PRICE_IN, "output_per_mtok": PRICE_OUT}},
            "daily_budget": budget,
        }
        | ai,
    )


async def _rows(repo: Repository, sql: str, **params: Any) -> list[Any]:
    async with repo.connection("test read") as conn:
        return list((await conn.execute(text(sql), params)).all())


async def _seeded(url: str) -> Repository:
    repo = Repository(url)
    await repo.initialize()
    await golden.load(repo, golden.markets())
    return repo


async def test_recorded_analyses_stay_the_default_and_no_model_is_called(
    sqlite_url: str, server: ScriptedServer
) -> None:
    # Even with a paid provider configured for live trading, a backtest replays the record.
    s = _settings(server, provider="openai", model="gpt-test")
    repo = await _seeded(sqlite_url)
    try:
        spec = BacktestSpec(T0, END, Decimal(1000))
        assert spec.analyst.label == "recorded"
        rep = await run_backtest(s, repo, spec)
        tracked = await _rows(repo, "SELECT * FROM ai_cost_tracking")
    finally:
        await repo.close()
    assert server.seen == [] and tracked == []
    assert rep.meta["analyst"] == "recorded"
    assert rep.meta["analyses"] == "recorded (market_analyses)"
    assert "ai_cost" not in rep.meta and len(rep.trades) == 6
    assert "Analyst: recorded" in markdown(rep)


async def test_a_paid_model_over_the_past_reserves_and_books_its_spend_like_live(
    db_url: str, server: ScriptedServer, tmp_path: Path
) -> None:
    s = _settings(server)
    repo = await _seeded(db_url)
    choice = parse_analyst("openai:gpt-test", PROVIDERS)
    try:
        before = await _rows(repo, "SELECT count(*) FROM market_analyses")
        rep = await run_backtest(
            s, repo, BacktestSpec(T0, END, Decimal(1000), analyst=choice),
            wall_clock=ManualClock(WALL),
        )  # fmt: skip
        tracked = await _rows(
            repo, "SELECT date, provider, total_cost, num_calls FROM ai_cost_tracking"
        )
        rows = await _rows(
            repo,
            "SELECT timestamp, cost, metadata FROM market_analyses WHERE ai_provider = :p",
            p="backtest:openai",
        )
        left = await _rows(repo, "SELECT count(*) FROM ai_budget_reservations")
        after = await _rows(repo, "SELECT count(*) FROM market_analyses")
        replayable = await load_analyses(repo, T0, WALL + timedelta(days=1))
    finally:
        await repo.close()
    calls = len(server.seen)
    assert calls >= len(P_YES)  # every market analysed at least once, through the SDK
    assert all(seen.path == "/v1/chat/completions" for seen in server.seen)
    assert all(seen.body["model"] == "gpt-test" for seen in server.seen)
    # Spend booked where live books it, on today's budget day, never on a replayed day.
    ((day, provider, total, n),) = tracked
    assert (str(day), provider, n) == ("2026-11-26", "backtest:openai", calls)
    assert abs(Decimal(str(total)) - calls * CALL_COST) < Decimal("1e-9")  # REAL column
    assert left == [(0,)]  # every reservation settled
    assert after[0][0] - before[0][0] == calls == len(rows)
    for ts, cost, meta in rows:
        assert str(ts).replace(" ", "T").startswith("2026-11-26T01:00:00")
        m = json.loads(meta)
        assert m["backtest"] is True and m["replay_time"] < END.isoformat()
        assert Decimal(str(cost)) > 0
    # A later recorded replay never mistakes a backtest's analysis for one recorded at the time.
    assert all(r.analysis.provider != "backtest:openai" for r in replayable)
    # The report says which analyst ran over the past and what it cost.
    assert rep.meta["analyst"] == "openai:gpt-test"
    assert rep.meta["analyst_run_over_past"] is True and rep.meta["analyst_paid"] is True
    assert rep.meta["ai_calls"] == calls and rep.meta["ai_cost"] == calls * CALL_COST
    assert rep.meta["ai_errors"] == {}
    assert len(rep.trades) == 6  # the model agrees with the recorded analyses
    assert rep.forecast is not None and rep.forecast.count >= len(P_YES)
    files = {p.name: p for p in export(rep, tmp_path / "run")}
    cost = str(calls * CALL_COST)
    md = files["summary.md"].read_text(encoding="utf-8")
    assert "RUN OVER THE PAST" in md and f"${cost}" in md and "openai:gpt-test" in md
    page = files["report.html"].read_text(encoding="utf-8")
    assert "RUN OVER THE PAST" in page and f"${cost}" in page
    data = json.loads(files["report.json"].read_text(encoding="utf-8"))
    assert data["meta"]["ai_cost"] == cost and data["meta"]["analyst"] == "openai:gpt-test"
    from rich.console import Console

    console = Console(record=True, width=200)
    print_report(console, rep)
    out = console.export_text()
    assert "RUN OVER THE PAST" in out and f"{calls} paid calls cost ${cost}" in out


async def test_an_exhausted_budget_stops_the_run_with_how_far_it_got(
    db_url: str, server: ScriptedServer
) -> None:
    # The worst case of one call is about $0.01 (prompt bytes + 600 output tokens): room for
    # a few calls, far fewer than the run wants.
    s = _settings(server, budget="0.03")
    repo = await _seeded(db_url)
    choice = parse_analyst("openai:gpt-test", PROVIDERS)
    try:
        with pytest.raises(BudgetExhausted) as caught:
            await run_backtest(
                s, repo, BacktestSpec(T0, END, Decimal(1000), analyst=choice),
                wall_clock=ManualClock(WALL),
            )  # fmt: skip
        tracked = await _rows(repo, "SELECT total_cost, num_calls FROM ai_cost_tracking")
        refused = await _rows(
            repo,
            "SELECT count(*) FROM market_analyses WHERE decision = :d AND metadata LIKE :e",
            d=Decision.SKIP.value,
            e='%"error": "ai_budget_exhausted"%',
        )
    finally:
        await repo.close()
    e = caught.value
    calls = len(server.seen)
    assert 0 < calls < len(P_YES) * 3
    assert e.calls == calls and e.cost == calls * CALL_COST
    ((total, n),) = tracked
    assert n == calls and Decimal(str(total)) <= Decimal("0.03")
    assert refused[0][0] >= 1  # the refusal is recorded, as live records it
    assert T0 <= e.at < END and 0 < e.snapshots < len(golden.snapshots(golden.markets()))
    msg = str(e)
    assert "AI budget exhausted at replay time" in msg and f"{calls} paid calls" in msg
    assert "\n" not in msg
    # What the paid calls bought comes back as a report of the part replayed, marked partial,
    # ending where the run stopped (no end-of-range cycle settling markets it never reached).
    rep = e.report
    assert rep is not None and rep.meta["snapshots"] == e.snapshots
    assert rep.meta["stopped"].startswith("PARTIAL RUN") and rep.meta["ai_calls"] == calls
    assert rep.meta["ai_cost"] == e.cost
    assert all(p.ts <= e.at for p in rep.equity)
    assert "PARTIAL RUN" in markdown(rep)


async def test_the_heuristic_over_the_past_is_free_and_touches_no_budget(sqlite_url: str) -> None:
    repo = await _seeded(sqlite_url)
    choice = parse_analyst("heuristic", PROVIDERS)
    try:
        before = await _rows(repo, "SELECT count(*) FROM market_analyses")
        rep = await run_backtest(
            golden.settings(), repo, BacktestSpec(T0, END, Decimal(1000), analyst=choice)
        )
        after = await _rows(repo, "SELECT count(*) FROM market_analyses")
        tracked = await _rows(repo, "SELECT * FROM ai_cost_tracking")
        reservations = await _rows(repo, "SELECT * FROM ai_budget_reservations")
    finally:
        await repo.close()
    assert before == after and tracked == [] and reservations == []
    assert rep.meta["analyst"] == "heuristic" and rep.meta["analyst_paid"] is False
    assert rep.meta["ai_cost"] == 0 and rep.meta["ai_calls"] == 0
    assert rep.forecast is not None  # the heuristic's forecasts are scored too
    assert "cost $0 (free, no budget used)" in markdown(rep)


async def test_the_configured_ensemble_runs_over_the_past_with_every_member_named(
    sqlite_url: str, server: ScriptedServer
) -> None:
    s = _settings(server, provider="openai", model="gpt-test", ensemble=["heuristic", "openai"])
    repo = await _seeded(sqlite_url)
    try:
        rep = await run_backtest(
            s, repo,
            BacktestSpec(T0, END, Decimal(1000), analyst=parse_analyst("configured", PROVIDERS)),
            wall_clock=ManualClock(WALL),
        )  # fmt: skip
        tracked = await _rows(repo, "SELECT provider, num_calls FROM ai_cost_tracking")
    finally:
        await repo.close()
    assert rep.meta["analyst"] == "heuristic + openai:gpt-test"
    assert rep.meta["ai_calls"] == len(server.seen) > 0
    # each member's call is booked, the paid one with its cost, all as backtest spend
    assert {p for p, _ in tracked} == {"backtest:heuristic", "backtest:openai", "backtest:ensemble"}


async def test_the_model_is_shown_only_data_stamped_at_or_before_the_replay_time(
    sqlite_url: str, server: ScriptedServer
) -> None:
    quotes = golden.flat(0.48, 0.50)
    for h in range(5, 9):
        quotes[h] = (0.37, 0.39, 100, 100)  # planted future prices, unique in the data set
    repo = Repository(sqlite_url)
    await repo.initialize()
    await golden.load(repo, [golden.GoldenMarket("GLD-A", "yes", "0.80", quotes)])
    s = _settings(server, show_market_price=True, reanalyze_after_seconds=0)
    choice = parse_analyst("openai:gpt-test", PROVIDERS)
    try:
        await run_backtest(
            s, repo, BacktestSpec(T0, END, Decimal(1000), analyst=choice),
            wall_clock=ManualClock(WALL),
        )  # fmt: skip
    finally:
        await repo.close()
    assert len(server.seen) >= 5
    for seen in server.seen:
        user = seen.body["messages"][1]["content"]
        now_line = re.search(r"^Now \(UTC\): (\S+)$", user, re.M)
        assert now_line is not None
        now = datetime.fromisoformat(now_line.group(1))
        assert T0 <= now <= END
        path = re.search(r"^Recent YES prices: (.*)$", user, re.M)
        stamps = [] if path is None else re.findall(r"(\S+?)=", path.group(1))
        assert all(datetime.fromisoformat(ts.rstrip(",")) <= now for ts in stamps), user
        if now < T0 + timedelta(hours=5):
            assert "0.37" not in user and "0.39" not in user, user
        else:
            assert "YES bid: 0.37" in user  # the present is shown once it is the present


def test_cli_a_paid_model_without_a_key_is_one_line_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_commands()
    for var in ("KALBOT_AI__OPENAI_API_KEY", "KALBOT_AI__API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "never" / "k.db"
    args = ["backtest", "--start", "2026-03-02", "--end", "2026-03-03"]
    args += ["--url", f"sqlite+aiosqlite:///{db}"]
    r = CliRunner().invoke(app, [*args, "--analyst", "openai"])
    assert r.exit_code == 1
    assert r.output.strip().count("\n") == 0, r.output
    assert "no API key configured" in r.output and "--analyst openai" in r.output
    assert not db.parent.exists()  # nothing was opened or created
    r = CliRunner().invoke(app, [*args, "--analyst", "gpt-5"])
    assert r.exit_code == 1 and "unknown analyst 'gpt-5'" in r.output
    monkeypatch.setenv("KALBOT_AI__OPENAI_API_KEY", "sk-test")
    r = CliRunner().invoke(app, [*args, "--analyst", "openai:no-such-model"])
    assert r.exit_code == 1 and "no price for model 'no-such-model'" in r.output
    assert not db.parent.exists()


def test_cli_reports_a_budget_stop_without_a_traceback(
    tmp_path: Path, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_commands()
    url = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"

    async def seed() -> None:
        repo = await _seeded(url)
        await repo.close()

    asyncio.run(seed())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KALBOT_AI__OPENAI_API_KEY", "sk-test-key")
    monkeypatch.setenv("KALBOT_AI__DAILY_BUDGET", "0.03")
    cfg = tmp_path / "bt.toml"
    cfg.write_text(
        f'[ai]\nbase_urls = {{ openai = "{server.url}/v1" }}\n'
        '[ai.prices.gpt-test]\ninput_per_mtok = "2.50"\noutput_per_mtok = "10.00"\n',
        encoding="utf-8",
    )
    args = ["backtest", "--start", "2026-03-02T12:00:00Z", "--end", "2026-03-03T00:00:00Z"]
    args += ["--url", url, "--config", str(cfg), "--analyst", "openai:gpt-test"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1, r.output
    assert "running openai:gpt-test over the past" in r.output
    assert "AI budget exhausted at replay time" in r.output and "Traceback" not in r.output
    # the part replayed is reported, marked partial, before the one-line stop
    assert "PARTIAL RUN" in r.output and "Metrics" in r.output
    assert r.output.index("Metrics") < r.output.index("AI budget exhausted at replay time")


def _questions(server: ScriptedServer) -> list[str]:
    return [json.dumps(s.body["messages"], sort_keys=True) for s in server.seen]


async def test_a_run_again_after_the_budget_stopped_it_pays_only_for_new_questions(
    db_url: str, server: ScriptedServer, tmp_path: Path
) -> None:
    from kalbot.backtest.results import trade_rows

    choice = parse_analyst("openai:gpt-test", PROVIDERS)
    spec = BacktestSpec(T0, END, Decimal(1000), analyst=choice)
    repo = await _seeded(db_url)
    try:
        with pytest.raises(BudgetExhausted):
            await run_backtest(
                _settings(server, budget="0.03"), repo, spec, wall_clock=ManualClock(WALL)
            )
        first = _questions(server)
        server.seen.clear()
        rep = await run_backtest(_settings(server), repo, spec, wall_clock=ManualClock(WALL))
        again = _questions(server)
        server.seen.clear()
        paid_again = await run_backtest(
            _settings(server), repo, replace(spec, reuse_paid=False), wall_clock=ManualClock(WALL)
        )
        every = _questions(server)
    finally:
        await repo.close()
    assert first and again
    assert not set(first) & set(again)  # nothing asked (and paid for) twice
    assert rep.meta["ai_reused"] == len(first) and rep.meta["ai_calls"] == len(again)
    assert rep.meta["ai_reused_cost"] == len(first) * CALL_COST
    assert f"{len(first)} analyses reused from earlier backtests" in markdown(rep)
    # Resumed, the run is the one an unstopped run gives (a fresh database, paying for all).
    server.seen.clear()
    fresh = await _seeded(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    try:
        whole = await run_backtest(_settings(server), fresh, spec, wall_clock=ManualClock(WALL))
    finally:
        await fresh.close()
    assert sorted(_questions(server)) == sorted(first + again)
    assert trade_rows(rep.trades) == trade_rows(whole.trades)
    assert rep.equity_metrics == whole.equity_metrics
    # Asked to pay again, it asks every question again.
    assert set(first) <= set(every) and paid_again.meta["ai_reused"] == 0


async def test_only_the_same_model_and_prompt_are_reused(
    sqlite_url: str, server: ScriptedServer
) -> None:
    from kalbot.backtest_app import load_earlier_paid

    choice = parse_analyst("openai:gpt-test", PROVIDERS)
    repo = await _seeded(sqlite_url)
    try:
        await run_backtest(
            _settings(server), repo, BacktestSpec(T0, END, Decimal(1000), analyst=choice),
            wall_clock=ManualClock(WALL),
        )  # fmt: skip
        same = await load_earlier_paid(repo, T0, END, {"openai": "gpt-test"})
        other_model = await load_earlier_paid(repo, T0, END, {"openai": "gpt-other"})
        other_provider = await load_earlier_paid(repo, T0, END, {"anthropic": "gpt-test"})
        later = END + timedelta(days=8)  # past the 7-day look-back: none of them
        before = await load_earlier_paid(
            repo, later, later + timedelta(days=1), {"openai": "gpt-test"}
        )
        async with repo.transaction("an older prompt") as conn:
            await conn.execute(
                text(
                    "UPDATE market_analyses SET metadata = "
                    "replace(metadata, 'analyst-prompt-v1', 'analyst-prompt-v0')"
                )
            )
        old_prompt = await load_earlier_paid(repo, T0, END, {"openai": "gpt-test"})
    finally:
        await repo.close()
    assert len(same) == len(server.seen) > 0
    assert all(e.analysis.provider == "openai" and T0 <= e.replay_time < END for e in same)
    assert other_model == other_provider == before == old_prompt == []
