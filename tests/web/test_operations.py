"""/health, /metrics, the token, read-only access, empty databases and backtest exports."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from kalbot.adapters.store.migrate import upgrade
from kalbot.domain.clock import ManualClock
from kalbot.web.app import create_app
from kalbot.web.db import create_read_engine
from kalbot.web.reader import Reader
from kalbot.web.security import TokenRequired, check_bind, is_loopback

from .conftest import make_client, make_config
from .seed import NOW, seed

TOKEN = "s3cret-token-0123456789"


def _metrics(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(client.get("/metrics").text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_health_is_200_when_the_bot_is_cycling(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    checks = {c["name"]: c["ok"] for c in r.json()["checks"]}
    assert checks == {"database": True, "last_cycle": True, "risk_state": True, "exchange": True}


def test_health_is_503_when_the_last_cycle_is_stale(seeded_url: str, exports: Path) -> None:
    with make_client(seeded_url, exports, max_cycle_age_seconds=30) as c:
        r = c.get("/health")
    assert r.status_code == 503
    bad = [x for x in r.json()["checks"] if not x["ok"]]
    assert [x["name"] for x in bad] == ["last_cycle"] and "40s ago" in bad[0]["detail"]


def test_health_is_503_when_the_exchange_does_not_answer(sqlite_seeded: str, exports: Path) -> None:
    seeded_url = sqlite_seeded

    async def down() -> str:
        raise ConnectionError("connection refused")

    async def up() -> str:
        return "exchange active, trading open"

    with make_client(seeded_url, exports, probe=down) as c:
        r = c.get("/health")
        assert r.status_code == 503
        assert "connection refused" in r.json()["checks"][-1]["detail"]
        m = _metrics(c)
        assert m[("kalbot_exchange_request_errors_total", ())] == 1.0
    with make_client(seeded_url, exports, probe=up) as c:
        assert c.get("/health").status_code == 200
        assert _metrics(c)[("kalbot_exchange_request_seconds_count", ())] == 1.0


def test_health_and_status_when_the_database_is_gone(tmp_path: Path, exports: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'missing.db'}"
    with make_client(url, exports) as c:
        r = c.get("/health")
        assert r.status_code == 503 and r.json()["checks"][0]["name"] == "database"
        assert "no database file" in r.json()["checks"][0]["detail"]
        assert c.get("/api/v1/status").status_code == 503
        page = c.get("/", headers={"accept": "text/html"})
        assert page.status_code == 503 and "not answering" in page.text
        m = _metrics(c)
        assert m[("kalbot_database_up", ())] == 0.0
    assert not (tmp_path / "missing.db").exists()  # never created by looking


def test_health_is_503_when_risk_is_halted(tmp_path: Path, exports: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'halted.db'}"
    asyncio.run(seed(url, engine_tables=False))
    from kalbot.adapters.store.repository import Repository

    from .seed import seed_engine_tables

    async def halted() -> None:
        repo = Repository(url)
        await repo.initialize()
        try:
            await seed_engine_tables(repo.engine, mode="live", risk="HALTED")
        finally:
            await repo.close()

    asyncio.run(halted())
    with make_client(url, exports) as c:
        r = c.get("/health")
        assert r.status_code == 503
        assert {x["name"]: x["ok"] for x in r.json()["checks"]}["risk_state"] is False
        s = c.get("/api/v1/status").json()
        assert (s["mode"], s["risk_state"]) == ("LIVE", "HALTED")
        assert "LIVE" in c.get("/").text and "mode-live" in c.get("/").text


def test_metrics_equal_the_status_and_the_tables(client: TestClient) -> None:
    m = _metrics(client)
    status = client.get("/api/v1/status").json()
    assert m[("kalbot_open_positions", ())] == status["open_positions"] == 3
    assert Decimal(str(m[("kalbot_open_exposure_dollars", ())])) == Decimal("12.75")
    assert m[("kalbot_realised_pnl_dollars", (("span", "today"),))] == pytest.approx(-2.43)
    assert m[("kalbot_realised_pnl_dollars", (("span", "all_time"),))] == pytest.approx(1.89)
    assert m[("kalbot_cycles_total", ())] == 3.0
    assert m[("kalbot_cycle_errors_total", ())] == 1.0
    assert m[("kalbot_refusals_total", (("reason", "no_edge_after_fees"),))] == 3.0
    assert m[("kalbot_refusals_total", (("reason", "cooldown"),))] == 1.0  # all time
    assert m[("kalbot_ai_calls_total", (("provider", "openai"),))] == 2.0
    assert m[("kalbot_ai_spend_dollars_total", (("provider", "xai"),))] == pytest.approx(0.5)
    assert m[("kalbot_risk_state", (("state", "ACTIVE"),))] == 1.0
    assert m[("kalbot_risk_state", (("state", "HALTED"),))] == 0.0
    assert m[("kalbot_database_up", ())] == 1.0


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "example.com", "::"])
def test_binding_beyond_loopback_without_a_token_is_refused(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(TokenRequired):
        check_bind(host, None)
    with pytest.raises(TokenRequired):
        check_bind(host, "short")
    check_bind(host, TOKEN)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2", "[::1]"])
def test_loopback_needs_no_token(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, None)


@pytest.fixture
def guarded(sqlite_seeded: str, exports: Path) -> Iterator[TestClient]:
    with make_client(sqlite_seeded, exports, token=TOKEN, host="0.0.0.0") as c:
        yield c


def test_every_request_must_carry_the_token(guarded: TestClient) -> None:
    for path in ("/", "/api/v1/status", "/health", "/metrics", "/static/style.css",
                 "/api/v1/openapi.json"):  # fmt: skip
        assert guarded.get(path).status_code == 401, path
        assert guarded.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = guarded.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200, path
    assert guarded.get("/api/v1/status", headers={"X-Kalbot-Token": TOKEN}).status_code == 200


def test_a_browser_token_becomes_a_cookie_and_leaves_the_url(guarded: TestClient) -> None:
    r = guarded.get(
        "/positions?token=" + TOKEN + "&status=open",
        headers={"accept": "text/html"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/positions?status=open"
    assert "httponly" in r.headers["set-cookie"].lower()
    assert guarded.get("/positions?status=open").status_code == 200  # the cookie now carries it


def test_the_dashboard_is_read_only(client: TestClient, seeded_url: str) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert client.request(method, "/api/v1/positions").status_code == 405
        assert client.request(method, "/").status_code == 405
    # Even its own connection cannot write.
    reader = Reader(create_read_engine(seeded_url), make_config(Path(".")), ManualClock(NOW))

    async def try_write() -> None:
        try:
            async with reader.engine.begin() as conn:
                await conn.execute(text("DELETE FROM positions"))
        finally:
            await reader.engine.dispose()

    with pytest.raises(Exception, match=r"(?i)read.only|readonly|query_only|attempt to write"):
        asyncio.run(try_write())


def test_security_headers_forbid_other_origins(sqlite_client: TestClient) -> None:
    client = sqlite_client
    csp = client.get("/").headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    assert client.get("/docs").status_code == 404  # Swagger UI would load from a CDN


@pytest.mark.parametrize("migrated", [False, True], ids=["no-tables", "migrated-empty"])
def test_an_empty_database_shows_an_empty_bot(db_url: str, exports: Path, migrated: bool) -> None:
    if migrated:
        asyncio.run(upgrade(db_url))
    elif db_url.startswith("sqlite"):
        import sqlite3

        sqlite3.connect(db_url.split("///", 1)[1]).close()  # an empty file, no tables
    with make_client(db_url, exports) as c:
        s = c.get("/api/v1/status").json()
        assert (s["open_positions"], s["pnl_all_time"], s["ai_spend_today"]) == (0, "0", "0")
        assert s["cash"] is None and s["portfolio_value"] is None and s["last_cycle"] is None
        assert s["mode"] == "PAPER" and s["mode_source"] == "settings"
        for path in ("/api/v1/positions", "/api/v1/analyses", "/api/v1/performance",
                     "/api/v1/costs", "/api/v1/refusals", "/api/v1/markets",
                     "/api/v1/backtests", "/metrics", "/", "/positions", "/analyses",
                     "/performance", "/markets", "/backtests"):  # fmt: skip
            assert c.get(path).status_code == 200, path
        assert c.get("/health").status_code == 503  # no cycle has run: not healthy
        assert c.get("/api/v1/markets/KXANY-1").status_code == 404


def test_live_enabled_in_settings_shows_live_until_the_engine_says_otherwise(
    db_url: str, exports: Path
) -> None:
    asyncio.run(upgrade(db_url))
    with make_client(db_url, exports, live_enabled=True, environment="production") as c:
        s = c.get("/api/v1/status").json()
        assert (s["mode"], s["environment"]) == ("LIVE", "production")


def test_backtest_runs_are_listed_and_their_files_served(
    sqlite_client: TestClient, exports: Path
) -> None:
    client = sqlite_client
    run = exports / "2026-11-20_standard"
    run.mkdir()
    (run / "metrics.json").write_text('{"metrics": {"total_return": "0.042", "trades": 17}}')
    (run / "report.html").write_text("<html><body><h1>Backtest report</h1></body></html>")
    (run / "trades.csv").write_text("ticker,side\nKX,yes\n")
    (exports / "not-a-run.txt").write_text("ignored")
    runs = client.get("/api/v1/backtests").json()
    assert [r["name"] for r in runs] == ["2026-11-20_standard"]
    assert runs[0]["metrics"] == {"total_return": "0.042", "trades": 17}
    assert runs[0]["report"] == "report.html"
    assert "Backtest report" in client.get("/backtests/2026-11-20_standard/report.html").text
    assert client.get("/backtests/2026-11-20_standard/trades.csv").status_code == 200
    page = client.get("/backtests").text
    assert "2026-11-20_standard" in page and "total_return" in page
    for bad in ("/backtests/..%2F..%2Fetc/passwd", "/backtests/2026-11-20_standard/..%2Fx",
                "/backtests/2026-11-20_standard/missing.html", "/backtests/x/.hidden"):  # fmt: skip
        assert client.get(bad).status_code == 404, bad


def test_partial_refresh_returns_only_the_content(sqlite_client: TestClient) -> None:
    client = sqlite_client
    full = client.get("/")
    part = client.get("/", headers={"X-Partial": "1"})
    assert "<html" in full.text and "<html" not in part.text
    assert 'data-testid="pnl-today"' in part.text and 'data-testid="banner"' in part.text


def test_create_app_refuses_off_loopback_without_token(sqlite_seeded: str) -> None:
    reader = Reader(create_read_engine(sqlite_seeded), make_config(Path(".")), ManualClock(NOW))
    with pytest.raises(TokenRequired):
        create_app(reader, host="0.0.0.0")


def test_clock_moves_the_cycle_age(sqlite_seeded: str, exports: Path) -> None:
    clock = ManualClock(NOW)
    reader = Reader(create_read_engine(sqlite_seeded), make_config(exports), clock)
    with TestClient(create_app(reader, dispose_engine=True)) as c:
        assert c.get("/health").status_code == 200
        clock.advance(timedelta(hours=1))
        assert c.get("/health").status_code == 503
