"""`kalbot data download`: Kalshi candlesticks and results -> market_snapshots + market_results.

One snapshot per candle (bid/ask = the candle's yes_bid / yes_ask close, last price = price close,
volume_24h = the sum of the candle volumes of the trailing 24 hours, open interest at the close).
Idempotent and resumable: (ticker, timestamp) pairs already stored are skipped, so a second run
(or a re-run after an interruption) adds no duplicates. Malformed candles are reported and
skipped, never defaulted.

Markets come from both of Kalshi's tiers (REFERENCE §0.9, §4.2): ``GET /markets`` lists the
live tier; a market that settled before ``GET /historical/cutoff`` (``market_settled_ts``) is
listed only by ``GET /historical/markets``, and its candles only by
``/historical/markets/{ticker}/candlesticks``. The two listings are merged by ticker (the
historical one wins: it is the market's final state).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from kalbot.adapters.kalshi import wire as w
from kalbot.adapters.kalshi.client import KalshiClient
from kalbot.adapters.kalshi.errors import KalshiError, NotFound
from kalbot.adapters.store.repository import Repository
from kalbot.domain.clock import iso_utc
from kalbot.domain.prices import PriceError, other_side_price, parse_dollars
from kalbot.domain.snapshot import Snapshot
from kalbot.domain.trading import MarketResultRow

INTERVALS = {"1m": 1, "1h": 60, "1d": 1440}
ZERO, ONE = Decimal(0), Decimal(1)
DAY = timedelta(days=1)


class CandleError(ValueError):
    """A candle that cannot become a snapshot (missing or impossible prices)."""


@dataclass(frozen=True, slots=True)
class DownloadSpec:
    """What to download: a series (optionally one event) over ``[start, end)``."""

    series: str
    start: datetime
    end: datetime
    interval: str = "1h"
    event: str | None = None

    def __post_init__(self) -> None:
        if self.interval not in INTERVALS:
            raise ValueError(
                f"interval must be one of {', '.join(INTERVALS)}, not {self.interval!r}"
            )
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware (UTC)")
        if self.end <= self.start:
            raise ValueError("end must be after start")


@dataclass(slots=True)
class DownloadReport:
    """What a download did; ``problems`` lists every skipped candle or market with the reason."""

    markets: int = 0
    historical_markets: int = 0  # of ``markets``, those listed by /historical/markets
    candles: int = 0
    written: int = 0
    already_stored: int = 0
    results: int = 0
    problems: list[str] = field(default_factory=list)


def _close(ohlc: w.OhlcW | None) -> str | None:
    if ohlc is None:
        return None
    return ohlc.close_dollars if ohlc.close_dollars is not None else ohlc.close


def _count(value: str | int | None, name: str, ticker: str) -> Decimal:
    if value is None:
        raise CandleError(f"{ticker}: candle without {name}")
    try:
        d = Decimal(str(value))
    except ArithmeticError:
        raise CandleError(f"{ticker}: {name} is not a number: {value!r}") from None
    if not d.is_finite() or d < ZERO:
        raise CandleError(f"{ticker}: {name} must be a non-negative number: {value!r}")
    return d


@dataclass(frozen=True, slots=True)
class CandleValues:
    """The exact values read from one candle (YES price space)."""

    at: datetime
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    last: Decimal | None
    volume: Decimal
    open_interest: Decimal


def candle_values(c: w.CandleW, ticker: str) -> CandleValues:
    """Parse one candle. A YES bid of 0 means no bid; a YES ask of 0 or 1 means no ask (as in
    ``convert.quote``). Missing bid/ask closes, bad numbers or a crossed book raise CandleError."""
    bid_s, ask_s = _close(c.yes_bid), _close(c.yes_ask)
    if bid_s is None or ask_s is None:
        raise CandleError(f"{ticker}: candle {c.end_period_ts} lacks yes_bid/yes_ask close")
    try:
        bid = parse_dollars(bid_s, "yes_bid.close", ticker)
        ask = parse_dollars(ask_s, "yes_ask.close", ticker)
        last_s = _close(c.price)
        last = parse_dollars(last_s, "price.close", ticker) if last_s is not None else None
    except PriceError as e:
        raise CandleError(f"{ticker}: candle {c.end_period_ts}: {e}") from None
    for name, p in (("yes_bid", bid), ("yes_ask", ask), ("price", last)):
        if p is not None and not ZERO <= p <= ONE:
            raise CandleError(f"{ticker}: candle {c.end_period_ts}: {name} {p} outside 0..1")
    yes_bid = bid if bid > ZERO else None
    yes_ask = ask if ZERO < ask < ONE else None
    if yes_bid is not None and yes_ask is not None and yes_bid > yes_ask:
        raise CandleError(f"{ticker}: candle {c.end_period_ts}: bid {bid} above ask {ask}")
    volume = _count(c.volume_fp if c.volume_fp is not None else c.volume, "volume", ticker)
    oi_raw = c.open_interest_fp if c.open_interest_fp is not None else c.open_interest
    oi = _count(oi_raw, "open_interest", ticker)
    if c.end_period_ts <= 0:
        raise CandleError(f"{ticker}: bad end_period_ts {c.end_period_ts}")
    at = datetime.fromtimestamp(c.end_period_ts, UTC)
    return CandleValues(at, yes_bid, yes_ask, last, volume, oi)


def _f(p: Decimal | None) -> float | None:
    return None if p is None else float(p)


def _int(d: Decimal) -> int:
    return int(d.quantize(ONE, rounding=ROUND_DOWN))  # fractional contracts: whole ones count


def market_snapshots(
    m: w.MarketW, candles: list[CandleValues], series: str, category: str, interval: str
) -> list[Snapshot]:
    """Snapshots of one market from its parsed candles (sorted by time)."""
    out: list[Snapshot] = []
    window: list[CandleValues] = []
    rolling = ZERO
    result = (m.result or "").lower() or None
    for cv in sorted(candles, key=lambda c: c.at):
        window.append(cv)
        rolling += cv.volume
        while window and window[0].at <= cv.at - DAY:
            rolling -= window.pop(0).volume
        meta: dict[str, object] = {
            "event_ticker": m.event_ticker,
            "series": series,
            "source": "kalshi_candles",
            "interval": interval,
            "candle_volume": str(cv.volume),
        }
        if result:
            meta["result"] = result
        out.append(
            Snapshot(
                timestamp=cv.at,
                ticker=m.ticker,
                title=m.title or m.yes_sub_title or None,
                last_price=_f(cv.last),
                yes_bid=_f(cv.yes_bid),
                yes_ask=_f(cv.yes_ask),
                # NO quotes are the YES book seen from the other side: no_bid = 1 - yes_ask
                no_bid=_f(other_side_price(cv.yes_ask)) if cv.yes_ask is not None else None,
                no_ask=_f(other_side_price(cv.yes_bid)) if cv.yes_bid is not None else None,
                volume_24h=_int(rolling),
                open_interest=_int(cv.open_interest),
                close_time=iso_utc(m.close_time) if m.close_time else None,
                category=category or None,
                metadata=meta,
            )
        )
    return out


async def _stored_times(
    repo: Repository, ticker: str, start: datetime, end: datetime
) -> set[datetime]:
    return {s.timestamp async for s in repo.stream_snapshots(start, end, [ticker])}


Progress = Callable[[str, int, int], None]


def _in_range(m: w.MarketW, spec: DownloadSpec) -> bool:
    return (m.open_time is None or m.open_time < spec.end) and (
        m.close_time is None or m.close_time >= spec.start
    )


async def list_markets(
    client: KalshiClient, spec: DownloadSpec, report: DownloadReport
) -> list[tuple[w.MarketW, bool]]:
    """(market, from the historical tier) for every market of ``spec`` open during its range,
    from both tiers, one per ticker, sorted by ticker."""
    filters: dict[str, Any] = {"series_ticker": spec.series}
    if spec.event:
        filters["event_ticker"] = spec.event
    live = [
        m
        async for m in client.iter_markets(**filters, min_close_ts=int(spec.start.timestamp()))
        if _in_range(m, spec)
    ]
    try:
        cutoff = (await client.historical_cutoff()).market_settled_ts
    except NotFound as e:  # an exchange without the historical tier (e.g. an old simulator)
        report.problems.append(f"no historical tier on this exchange ({e}): live markets only")
        cutoff = None
    historical: list[w.MarketW] = []
    # A market settled before ``start`` closed before it too: with the cutoff at or before
    # ``start`` the historical tier holds nothing in range, and is not read.
    if cutoff is not None and cutoff > spec.start:
        try:
            historical = [
                m async for m in client.iter_historical_markets(**filters) if _in_range(m, spec)
            ]
        except NotFound as e:  # a cutoff but no archive listing (a partial implementation)
            report.problems.append(f"historical markets not listed ({e}): live markets only")
    by: dict[str, tuple[w.MarketW, bool]] = {m.ticker: (m, False) for m in live}
    by.update((m.ticker, (m, True)) for m in historical)
    return [by[t] for t in sorted(by)]


async def download(
    client: KalshiClient,
    repo: Repository,
    spec: DownloadSpec,
    progress: Progress | None = None,
) -> DownloadReport:
    """Download ``spec`` into ``repo`` (already initialised). ``progress(ticker, done, total)``
    is called after each market."""
    report = DownloadReport()
    series = await client.series(spec.series)
    category = series.category
    listed = await list_markets(client, spec, report)
    report.markets = len(listed)
    report.historical_markets = sum(1 for _, historical in listed if historical)
    # Kalshi stamps a candle at its period's END; end_ts is inclusive, so ask to the last instant
    start_ts, end_ts = int(spec.start.timestamp()), int(spec.end.timestamp())
    period = INTERVALS[spec.interval]
    results: list[MarketResultRow] = []
    for i, (m, historical) in enumerate(listed, 1):
        try:
            if historical:
                raw = await client.historical_candlesticks(
                    m.ticker, start_ts=start_ts, end_ts=end_ts, period_interval=period
                )
            else:
                raw = await client.candlesticks(
                    spec.series,
                    m.ticker,
                    start_ts=start_ts,
                    end_ts=end_ts,
                    period_interval=period,
                    settled_time=m.settlement_ts or (m.close_time if m.result else None),
                )
        except (KalshiError, PriceError) as e:
            report.problems.append(f"{m.ticker}: candlesticks not downloaded: {e}")
            if progress:
                progress(m.ticker, i, len(listed))
            continue
        parsed: list[CandleValues] = []
        for c in raw:
            report.candles += 1
            try:
                parsed.append(candle_values(c, m.ticker))
            except CandleError as e:
                report.problems.append(str(e))
        snaps = [
            s
            for s in market_snapshots(m, parsed, spec.series, category, spec.interval)
            if spec.start <= s.timestamp < spec.end
        ]
        have = await _stored_times(repo, m.ticker, spec.start, spec.end)
        new = [s for s in snaps if s.timestamp not in have]
        report.already_stored += len(snaps) - len(new)
        if new:
            report.written += await repo.add_snapshots(new)
        result = (m.result or "").lower()
        if result in ("yes", "no", "void", "scalar"):
            when = m.settlement_ts or m.close_time or spec.end
            results.append(MarketResultRow(m.ticker, m.event_ticker, category, result, when))
        elif result:
            report.problems.append(f"{m.ticker}: unknown result {m.result!r}; not recorded")
        if progress:
            progress(m.ticker, i, len(listed))
    if results:
        await repo.add_market_results(results)  # upsert on ticker: re-runs add nothing
    report.results = len(results)
    return report
