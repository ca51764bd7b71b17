"""Every /api/v1 number equals the one computed from the tables directly, on both databases."""

from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient

from . import direct
from .seed import BTC, FED, NOQUOTE, RAIN

D = Decimal


def test_status_numbers_equal_the_tables(client: TestClient, seeded_url: str) -> None:
    s = client.get("/api/v1/status").json()
    today = direct.realised(seeded_url, "2026-11-25", "2026-11-26")
    week = direct.realised(seeded_url, "2026-11-23", "2026-11-26")
    total = direct.realised(seeded_url)
    assert (
        D(s["pnl_today"]) == today == D("-2.43")
    )  # +1.32 (YES, after fees) - 3.75 (NO, settled YES)
    assert D(s["pnl_week"]) == week == D("3.86")  # + 6.29 (NO settled NO on Monday)
    assert D(s["pnl_all_time"]) == total == D("1.89")  # - 1.97 (stop-loss last week)
    assert s["trades_today"] == 2

    opened = direct.open_positions(seeded_url)
    assert s["open_positions"] == len(opened) == 3
    exposure = sum((p["quantity"] * p["entry"] for p in opened), D(0))
    assert D(s["open_exposure"]) == exposure == D("12.75")
    unrealised = sum((p["unrealised"] for p in opened if p["unrealised"] is not None), D(0))
    assert D(s["unrealised_pnl"]) == unrealised == D("1.60")
    assert s["unmarked_positions"] == 1

    from_analyses, from_tracking = direct.ai_spend(seeded_url, "2026-11-25", "2026-11-26")
    assert D(s["ai_spend_today"]) == max(from_analyses, from_tracking) == D("0.0413")
    assert D(s["ai_budget"]) == D(10)
    assert (s["ai_budget_source"], s["ai_budget_set_at"]) == ("config", None)
    assert D(s["ai_budget_remaining"]) == D("9.9587")
    assert s["ai_calls_today"] == 5

    assert s["mode"] == "PAPER" and s["mode_source"] == "engine"
    assert s["risk_state"] == "ACTIVE" and s["risk_reason"] == "daily_reset"
    assert D(s["cash"]) == D("10035.45") and D(s["portfolio_value"]) == D("10047.2")
    assert s["last_cycle"]["age_seconds"] == 40.0
    refusals = {r["reason"]: r["count"] for r in s["refusals_today"]}
    assert refusals == direct.refusal_counts(seeded_url, "2026-11-25", "2026-11-26")
    assert refusals == {"no_edge_after_fees": 3, "ai_budget_exhausted": 2, "max_open_positions": 1}
    assert s["missing_tables"] == []


def test_open_positions_are_marked_at_their_own_sides_bid(client: TestClient) -> None:
    page = client.get("/api/v1/positions", params={"status": "open"}).json()
    by_ticker = {p["ticker"]: p for p in page["items"]}
    yes, no, unquoted = by_ticker[BTC], by_ticker[FED], by_ticker[NOQUOTE]
    # YES 10 bought at 0.40, YES bid now 0.46: +0.60.
    assert (yes["side"], D(yes["mark"]), D(yes["unrealised_pnl"])) == ("yes", D("0.46"), D("0.6"))
    # NO 20 bought at 0.30; YES ask 0.65 means a NO sells at 0.35: +1.00 (not 20*(0.62-0.30)).
    assert (no["side"], D(no["mark"]), D(no["unrealised_pnl"])) == ("no", D("0.35"), D("1.00"))
    assert D(no["market_value"]) == D("7.00")
    # No recorded quote: no mark and no P&L — never a default price.
    assert unquoted["mark"] is None and unquoted["unrealised_pnl"] is None
    assert D(unquoted["cost_basis"]) == D("2.75")


def test_closed_positions_carry_pnl_and_close_reason(client: TestClient, seeded_url: str) -> None:
    page = client.get("/api/v1/positions", params={"status": "closed"}).json()
    assert page["total"] == 4
    got = {(p["ticker"], p["side"]): (D(p["pnl"]), p["close_reason"]) for p in page["items"]}
    raw = direct.rows(seeded_url, "SELECT ticker, side, pnl, close_reason FROM positions "
                      "WHERE status = 'closed'")  # fmt: skip
    assert got == {(t, s): (direct.d(pnl), why) for t, s, pnl, why in raw}
    assert got[(RAIN, "no")] == (D("6.29"), "settled_no")
    assert got[(FED, "no")] == (D("-3.75"), "settled_yes")
    assert all(p["mark"] is None for p in page["items"])


def test_positions_filter_by_ticker_status_date_and_page(client: TestClient) -> None:
    r = client.get("/api/v1/positions", params={"ticker": RAIN}).json()
    assert {p["ticker"] for p in r["items"]} == {RAIN} and r["total"] == 2
    r = client.get("/api/v1/positions", params={"date_from": "2026-11-20", "date_to": "2026-11-20"})
    assert [p["close_reason"] for p in r.json()["items"]] == ["stop_loss"]
    r = client.get("/api/v1/positions", params={"page_size": 3, "page": 1}).json()
    assert (r["total"], r["pages"], len(r["items"])) == (7, 3, 3)
    assert all(p["status"] == "open" for p in r["items"])  # open ones first
    last = client.get("/api/v1/positions", params={"page_size": 3, "page": 3}).json()
    assert len(last["items"]) == 1
    assert client.get("/api/v1/positions", params={"status": "bogus"}).status_code == 422
    assert client.get("/api/v1/positions", params={"ticker": "bad ticker;"}).status_code == 422


def test_analyses_show_provider_model_probability_and_rationale(client: TestClient) -> None:
    page = client.get("/api/v1/analyses").json()
    assert page["total"] == 6
    first = page["items"][-1]  # oldest: yesterday's xai call
    assert (first["provider"], first["model"], D(first["probability_yes"])) == (
        "xai",
        "grok-4",
        D("0.12"),
    )
    failed = next(a for a in page["items"] if a["error"])
    assert failed["error"] == "invalid JSON in reply" and failed["probability_yes"] is None
    assert failed["decision"] == "SKIP"
    one = client.get(f"/api/v1/analyses/{page['items'][0]['id']}").json()
    assert one == page["items"][0]
    assert client.get("/api/v1/analyses/999999").status_code == 404
    skips = client.get("/api/v1/analyses", params={"decision": "SKIP"}).json()
    assert skips["total"] == 3 and {a["decision"] for a in skips["items"]} == {"SKIP"}


def test_performance_series_and_win_rate_match_the_tables(
    client: TestClient, seeded_url: str
) -> None:
    perf = client.get("/api/v1/performance").json()
    raw = direct.rows(
        seeded_url, "SELECT date, portfolio_value FROM performance_logs ORDER BY date"
    )
    assert [(p["date"], D(p["portfolio_value"])) for p in perf["days"]] == [
        (str(day), direct.d(v)) for day, v in raw
    ]
    pnls = [direct.d(r[0]) for r in direct.rows(seeded_url, "SELECT pnl FROM positions "
                                                "WHERE status = 'closed'")]  # fmt: skip
    assert perf["closed_trades"] == len(pnls) == 4
    assert perf["wins"] == sum(1 for p in pnls if p > 0) == 2
    assert D(perf["win_rate"]) == D("0.5")
    assert D(perf["realised_pnl"]) == sum(pnls, D(0))
    # Peak 10055.50 on the 23rd, then 10047.20: (10055.5 - 10047.2) / 10055.5 = 0.0825 %.
    assert D(perf["peak_value"]) == D("10055.5")
    assert D(perf["days"][-1]["drawdown"]) == D("0.0008")
    # Max drawdown: from 10030 (19th) to 9985 (21st) = 0.449 %.
    assert D(perf["max_drawdown"]) == D("0.0045")
    daily = {p["date"]: D(p["pnl"]) for p in perf["daily_pnl"]}
    assert daily == {"2026-11-20": D("-1.97"), "2026-11-23": D("6.29"), "2026-11-25": D("-2.43")}


def test_costs_by_provider_match_the_tracking_rows(client: TestClient, seeded_url: str) -> None:
    c = client.get("/api/v1/costs").json()
    by = {p["provider"]: (D(p["cost"]), p["calls"]) for p in c["by_provider_today"]}
    raw = direct.rows(seeded_url, "SELECT provider, total_cost, num_calls FROM ai_cost_tracking "
                      "WHERE date = '2026-11-25'")  # fmt: skip
    assert by == {p: (direct.d(v).quantize(D("0.000001")), int(n)) for p, v, n in raw}
    assert by["openai"] == (D("0.0163"), 2)
    assert D(c["spend_from_analyses"]) == D("0.0413")
    assert {(r["date"], r["provider"]) for r in c["days"]} >= {("2026-11-24", "xai")}


def test_refusals_today_and_another_day(client: TestClient) -> None:
    r = client.get("/api/v1/refusals").json()
    assert r["available"] is True
    assert sum(c["count"] for c in r["counts"]) == 6
    assert r["recent"][0]["reason"] == "ai_budget_exhausted"
    other = client.get("/api/v1/refusals", params={"date": "2026-11-24"}).json()
    assert other["counts"] == [{"reason": "cooldown", "count": 1}]


def test_markets_list_and_chart_data_with_trades(client: TestClient, seeded_url: str) -> None:
    listing = client.get("/api/v1/markets").json()
    assert {m["ticker"] for m in listing} == {BTC, FED}
    btc = next(m for m in listing if m["ticker"] == BTC)
    assert (D(btc["yes_bid"]), btc["snapshots"], btc["open_position"]) == (D("0.46"), 36, True)
    fed = client.get(f"/api/v1/markets/{FED}").json()
    assert len(fed["points"]) == 36
    assert fed["points"] == sorted(fed["points"], key=lambda p: p["time"])
    # The NO entry at 0.30 sits at YES 0.70 on the chart; the settled NO exits at 0 = YES 1.00.
    entries = {(t["kind"], D(t["price"]), D(t["yes_price"])) for t in fed["trades"]}
    assert ("entry", D("0.30"), D("0.70")) in entries
    assert ("exit", D("0"), D("1")) in entries
    assert client.get("/api/v1/markets/KXNOPE-1").status_code == 404


def test_openapi_schema_lists_every_endpoint(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for p in ("status", "positions", "analyses", "performance", "costs", "refusals", "markets"):
        assert f"/api/v1/{p}" in paths
    assert "/health" in paths and "/metrics" in paths
