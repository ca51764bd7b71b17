"""`kalbot data download` logic against httpx.MockTransport with Kalshi-shaped payloads."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from kalbot.adapters.kalshi.client import KalshiClient
from kalbot.adapters.kalshi.ratelimit import RateLimiter
from kalbot.adapters.store.repository import Repository
from kalbot.backtest_download import DownloadReport, DownloadSpec, download
from kalbot.domain.snapshot import Snapshot

BASE = "https://kalshi.test/trade-api/v2"
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
FIXTURES = (
    (SHARED if (SHARED / "kalshi").is_dir() else Path("/work/shared")) / "kalshi" / "fixtures"
)
LIVE = "KXFED-26JAN-T4.00"  # open market: live candles from the recorded fixture
OLD = "KXFED-26JAN-T3.75"  # settled before the cutoff: /historical candles (bare OHLC names)
START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 10, tzinfo=UTC)


def _market(ticker: str, **over: Any) -> dict[str, Any]:
    base = {
        "ticker": ticker,
        "event_ticker": "KXFED-26JAN",
        "title": f"Fed rate above {ticker[-4:]}?",
        "status": "active",
        "open_time": "2025-08-01T00:00:00Z",
        "close_time": "2026-01-28T19:00:00Z",
        "yes_bid_dollars": "0.0000",
        "yes_ask_dollars": "0.0500",
        "result": "",
    }
    return base | over


def _old_candles() -> list[dict[str, Any]]:
    return [
        {
            "end_period_ts": 1767229200,  # 2026-01-01T01:00Z
            "yes_bid": {"open": "0.40", "low": "0.40", "high": "0.45", "close": "0.42"},
            "yes_ask": {"open": "0.46", "low": "0.44", "high": "0.47", "close": "0.44"},
            "price": {"close": "0.43"},
            "volume": "120.00",
            "open_interest": "300.00",
        },
        {
            "end_period_ts": 1767232800,  # 2026-01-01T02:00Z
            "yes_bid": {"close": "0.9900"},
            "yes_ask": {"close": "1.0000"},  # no ask left
            "price": {"close": "0.99"},
            "volume": "30.00",
            "open_interest": "310.00",
        },
    ]


def _settled(ticker: str, result: str, close: str, settled: str) -> dict[str, Any]:
    """A finalized market as the historical tier lists it: the recorded fixture's shape."""
    data = json.loads((FIXTURES / "anytroops_market-lens" / "kalshi_market.json").read_bytes())
    m: dict[str, Any] = data.get("market", data)
    m = {k: v for k, v in m.items() if not k.startswith("mve_") and k != "custom_strike"}
    return m | {
        "ticker": ticker, "event_ticker": "KXFED-26JAN", "title": f"Fed rate above {ticker[-4:]}?",
        "open_time": "2025-08-01T00:00:00Z", "close_time": close, "settlement_ts": settled,
        "result": result, "status": "finalized", "strike_type": "greater",
    }  # fmt: skip


ANCIENT = "KXFED-25JUN-T4.25"  # settled in 2025: historical tier, outside the range
MOVED = "KXFED-26JAN-T3.50"  # listed by both tiers while it moves to the historical one


class Exchange:
    """Routes the client's requests to canned payloads (live and historical tiers, as Kalshi
    splits them at ``/historical/cutoff``) and counts them."""

    def __init__(
        self,
        live_candles: list[dict[str, Any]],
        *,
        cutoff: str = "2026-01-05T00:00:00Z",
        historical_tier: bool = True,
        moved: bool = False,
        no_listing: bool = False,
    ) -> None:
        self.no_listing = no_listing
        self.live_candles = live_candles
        self.cutoff = cutoff
        self.historical_tier = historical_tier
        self.moved = moved
        self.paths: list[str] = []
        self.params: dict[str, list[dict[str, str]]] = {}

    def _historical_markets(self, cursor: str | None) -> dict[str, Any]:
        old = _settled(OLD, "yes", "2026-01-02T19:00:00Z", "2026-01-02T20:00:00Z")
        ancient = _settled(ANCIENT, "no", "2025-06-18T18:00:00Z", "2025-06-18T19:00:00Z")
        if not cursor:  # two pages: the cursor must be followed
            return {"markets": [ancient], "cursor": "page-2"}
        assert cursor == "page-2"
        page = [old]
        if self.moved:
            page.append(_settled(MOVED, "no", "2026-01-03T19:00:00Z", "2026-01-03T20:00:00Z"))
        return {"markets": page, "cursor": ""}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/trade-api/v2")
        self.paths.append(path)
        self.params.setdefault(path, []).append(dict(request.url.params))
        historical = path.startswith("/historical/")
        if path == "/historical/markets" and self.no_listing:
            return httpx.Response(404, json={"error": {"code": "not_found", "message": path}})
        if historical and not self.historical_tier:
            return httpx.Response(404, json={"error": {"code": "not_found", "message": path}})
        if path == "/series/KXFED":
            body: Any = {"series": {"ticker": "KXFED", "category": "Economics"}}
        elif path == "/markets":
            assert request.url.params["series_ticker"] == "KXFED"
            later = _market("KXFED-26JAN-T9.00", open_time="2026-02-01T00:00:00Z")
            markets = [_market(LIVE), later]
            if self.moved:  # still listed live, without its result yet
                markets.append(_market(MOVED, status="closed", close_time="2026-01-03T19:00:00Z"))
            body = {"markets": markets, "cursor": ""}
        elif path == "/historical/markets":
            assert request.url.params["series_ticker"] == "KXFED"
            body = self._historical_markets(request.url.params.get("cursor"))
        elif path == "/historical/cutoff":
            body = {"market_settled_ts": self.cutoff}
        elif path == f"/series/KXFED/markets/{LIVE}/candlesticks":
            body = {"ticker": LIVE, "candlesticks": self.live_candles}
        elif path in (
            f"/historical/markets/{OLD}/candlesticks",
            f"/historical/markets/{MOVED}/candlesticks",
        ):
            body = {"ticker": path.split("/")[3], "candlesticks": _old_candles()}
        else:
            return httpx.Response(404, json={"error": {"code": "not_found", "message": path}})
        return httpx.Response(200, json=body)


async def _nosleep(_: float) -> None:
    return None


def _client(handler: Exchange) -> KalshiClient:
    return KalshiClient(
        BASE,
        transport=httpx.MockTransport(handler),
        limiter=RateLimiter.unlimited(),
        sleep=_nosleep,
        rng=lambda: 0.5,
    )


def _fixture_candles() -> list[dict[str, Any]]:
    data = json.loads((FIXTURES / "anytroops_market-lens" / "kalshi_candles.json").read_bytes())
    candles: list[dict[str, Any]] = data["candlesticks"]
    return candles


async def _run(
    url: str, handler: Exchange, start: datetime = START
) -> tuple[DownloadReport, list[Snapshot], Repository]:
    repo = Repository(url)
    await repo.initialize()
    try:
        async with _client(handler) as client:
            rep = await download(client, repo, DownloadSpec("KXFED", start, END, "1h"))
        snaps = [s async for s in repo.stream_snapshots(START, END)]
    finally:
        await repo.close()
    return rep, snaps, repo


def test_download_writes_snapshots_and_results(sqlite_url: str) -> None:
    async def go() -> None:
        handler = Exchange(_fixture_candles())
        rep, snaps, _ = await _run(sqlite_url, handler)
        # the later market opens after END; the first fixture candle (Aug 2025) is out of range
        # OLD is listed only by the historical tier; ANCIENT closed before START
        assert rep.markets == 2 and rep.historical_markets == 1 and rep.problems == []
        assert rep.written == 4 and rep.results == 1
        assert f"/historical/markets/{ANCIENT}/candlesticks" not in handler.paths
        # the historical listing has no time filter; the live one starts at START
        assert "min_close_ts" not in handler.params["/historical/markets"][0]
        assert handler.params["/markets"][0]["min_close_ts"] == str(int(START.timestamp()))
        assert f"/historical/markets/{OLD}/candlesticks" in handler.paths
        assert f"/series/KXFED/markets/{LIVE}/candlesticks" in handler.paths
        by = {(s.ticker, s.timestamp): s for s in snaps}
        # YES side: historical candle, bid/ask from the closes, NO side derived from the YES book
        s = by[(OLD, datetime(2026, 1, 1, 1, tzinfo=UTC))]
        assert (s.yes_bid, s.yes_ask, s.no_bid, s.no_ask) == (0.42, 0.44, 0.56, 0.58)
        assert (s.last_price, s.volume_24h, s.open_interest) == (0.43, 120, 300)
        assert s.category == "Economics" and s.close_time == "2026-01-02T19:00:00Z"
        assert s.metadata["event_ticker"] == "KXFED-26JAN" and s.metadata["series"] == "KXFED"
        assert s.metadata["result"] == "yes"
        s = by[(OLD, datetime(2026, 1, 1, 2, tzinfo=UTC))]
        assert (s.yes_bid, s.yes_ask, s.no_bid, s.no_ask) == (0.99, None, None, 0.01)
        assert s.volume_24h == 150  # trailing 24 h of candle volumes
        # live fixture candle: YES bid 0 = no bid, so there is no NO ask
        s = by[(LIVE, datetime.fromtimestamp(1767848400, UTC))]
        assert (s.yes_bid, s.yes_ask, s.no_bid, s.no_ask) == (None, 0.05, 0.95, None)
        assert (s.last_price, s.volume_24h, s.open_interest) == (0.05, 10, 10)
        s = by[(LIVE, datetime.fromtimestamp(1767934800, UTC))]
        assert s.last_price is None  # no trade in that hour: never a made-up price
        assert "result" not in s.metadata
        repo2 = Repository(sqlite_url)
        await repo2.initialize()
        try:
            assert await repo2.market_result(OLD) == "yes"
            assert await repo2.market_result(LIVE) is None
        finally:
            await repo2.close()

    asyncio.run(go())


def test_download_twice_adds_nothing(sqlite_url: str) -> None:
    async def go() -> None:
        first, snaps1, _ = await _run(sqlite_url, Exchange(_fixture_candles()))
        second, snaps2, _ = await _run(sqlite_url, Exchange(_fixture_candles()))
        assert first.written == 4
        assert second.written == 0 and second.already_stored == 4
        assert snaps1 == snaps2

    asyncio.run(go())


def test_resume_writes_only_the_missing_candles(sqlite_url: str) -> None:
    async def go() -> None:
        candles = _fixture_candles()
        await _run(sqlite_url, Exchange(candles[:2]))
        rep, snaps, _ = await _run(sqlite_url, Exchange(candles))
        assert rep.written == 1 and rep.already_stored == 3
        assert len(snaps) == 4

    asyncio.run(go())


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"yes_bid": {}}, "lacks yes_bid/yes_ask close"),
        ({"yes_ask": {"close_dollars": "abc"}}, "yes_ask.close"),
        ({"yes_bid": {"close_dollars": "0.0600"}}, "above ask"),
        ({"yes_ask": {"close_dollars": "1.2000"}}, "outside 0..1"),
        ({"volume_fp": None, "volume": None}, "without volume"),
        ({"open_interest_fp": "-3"}, "open_interest"),
    ],
)
def test_malformed_candle_is_reported_and_skipped(
    sqlite_url: str, bad: dict[str, Any], reason: str
) -> None:
    async def go() -> None:
        candles = _fixture_candles()
        candles[2] = candles[2] | bad
        rep, snaps, _ = await _run(sqlite_url, Exchange(candles))
        assert len(rep.problems) == 1 and reason in rep.problems[0], rep.problems
        assert LIVE in rep.problems[0]
        assert rep.written == 3  # the good candles still land; the bad one is not defaulted
        assert datetime.fromtimestamp(1767934800, UTC) not in {
            s.timestamp for s in snaps if s.ticker == LIVE
        }

    asyncio.run(go())


def test_market_whose_candles_fail_is_reported(sqlite_url: str) -> None:
    async def go() -> None:
        handler = Exchange([{"end_period_ts": "not a time"}])
        rep, snaps, _ = await _run(sqlite_url, handler)
        assert any(p.startswith(LIVE) for p in rep.problems)
        assert {s.ticker for s in snaps} == {OLD}

    asyncio.run(go())


def test_spec_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="interval"):
        DownloadSpec("KXFED", START, END, "5m")
    with pytest.raises(ValueError, match="after start"):
        DownloadSpec("KXFED", END, START)


def test_a_market_listed_by_both_tiers_is_downloaded_once_from_the_historical_one(
    sqlite_url: str,
) -> None:
    async def go() -> None:
        handler = Exchange(_fixture_candles(), moved=True)
        rep, snaps, _ = await _run(sqlite_url, handler)
        assert rep.markets == 3 and rep.historical_markets == 2 and rep.problems == []
        assert handler.paths.count(f"/historical/markets/{MOVED}/candlesticks") == 1
        assert f"/series/KXFED/markets/{MOVED}/candlesticks" not in handler.paths
        moved = [s for s in snaps if s.ticker == MOVED]
        assert len(moved) == 2 and all(s.metadata["result"] == "no" for s in moved)
        assert rep.results == 2  # OLD yes, MOVED no (the historical listing's final state)
        again, _, _ = await _run(sqlite_url, Exchange(_fixture_candles(), moved=True))
        assert again.written == 0 and again.already_stored == rep.written

    asyncio.run(go())


def test_the_historical_tier_is_not_read_when_the_range_starts_after_the_cutoff(
    sqlite_url: str,
) -> None:
    async def go() -> None:
        handler = Exchange(_fixture_candles(), cutoff="2025-12-01T00:00:00Z")
        rep, snaps, _ = await _run(sqlite_url, handler)
        assert "/historical/markets" not in handler.paths
        assert rep.markets == 1 and rep.historical_markets == 0
        assert {s.ticker for s in snaps} == {LIVE}

    asyncio.run(go())


def test_an_exchange_without_the_historical_tier_gets_live_markets_and_a_note(
    sqlite_url: str,
) -> None:
    async def go() -> None:
        rep, snaps, _ = await _run(sqlite_url, Exchange(_fixture_candles(), historical_tier=False))
        assert rep.markets == 1 and {s.ticker for s in snaps} == {LIVE}
        assert len(rep.problems) == 1 and "no historical tier" in rep.problems[0]

    asyncio.run(go())


def test_an_archive_without_a_market_listing_is_a_note_not_a_failure(sqlite_url: str) -> None:
    async def go() -> None:
        rep, snaps, _ = await _run(sqlite_url, Exchange(_fixture_candles(), no_listing=True))
        assert rep.markets == 1 and {s.ticker for s in snaps} == {LIVE}
        assert len(rep.problems) == 1 and "historical markets not listed" in rep.problems[0]

    asyncio.run(go())


async def test_client_lists_historical_markets_across_pages() -> None:
    handler = Exchange([])
    async with _client(handler) as client:
        got = [m.ticker async for m in client.iter_historical_markets(series_ticker="KXFED")]
        candles = await client.historical_candlesticks(
            OLD, start_ts=1767225600, end_ts=1767312000, period_interval=60
        )
    assert got == [ANCIENT, OLD]
    assert handler.params["/historical/markets"][1]["cursor"] == "page-2"
    assert [c.end_period_ts for c in candles] == [1767229200, 1767232800]
    with pytest.raises(ValueError, match="period_interval"):
        async with _client(handler) as client:
            await client.historical_candlesticks(OLD, start_ts=0, end_ts=1, period_interval=5)
