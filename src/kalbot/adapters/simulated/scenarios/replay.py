"""Markets rebuilt from recorded ``market_snapshots`` rows (and their results).

The driver reads ``kalbot.domain.snapshot.Snapshot`` values from any async iterator (the
store's ``stream_snapshots`` through ``kalbot.ports.SnapshotStore``, a file, a test list), so
this adapter never imports the store. Each ticker is listed on first sight as a quote-driven
market (fills through a fill model, see ``fill_models.py``); every later snapshot updates its
quote, which may fill resting orders; markets whose close has passed are settled at their
result when one is known (the ``results`` mapping, else the snapshot's ``metadata["result"]``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.fill_models import FillModel, get_fill_model
from kalbot.adapters.simulated.markets import MarketSpec
from kalbot.adapters.simulated.records import SettlementRecord
from kalbot.domain.clock import ManualClock, parse_iso
from kalbot.domain.market import MarketResult, MarketStatus, Quote
from kalbot.domain.snapshot import Snapshot

_TICK = Decimal("0.0001")
_CACHE_LIMIT = 100_000


class ReplayError(ValueError):
    """A snapshot that cannot become a market (it is skipped, never guessed)."""


@dataclass(slots=True)
class ReplayStats:
    snapshots: int = 0
    markets: int = 0
    settled: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # ticker -> why


@dataclass(slots=True)
class PreparedBatch:
    """Snapshots converted for the exchange by ``ReplayConverter`` (``ReplayDriver`` applies it).

    Made of plain values so a converter in another process can send it (``kalbot backtest``
    reads and converts in a worker process while the engine trades). Quotes and liquidity are
    sent once each and referred to by their number afterwards: ``new_quotes``/``new_liquidity``
    extend the receiver's tables (emptied first when ``reset``), and update ``i`` is
    ``tickers[i]`` at quote ``quote_ids[i]`` with liquidity ``liquidity_ids[i]`` (-1: none).
    """

    timestamp: datetime | None  # of the first snapshot (a replay step's are all the same)
    count: int  # snapshots converted, usable or not
    first_seen: list[tuple[str, str]] = field(default_factory=list)  # (ticker, category)
    listings: list[tuple[Snapshot, datetime]] = field(default_factory=list)  # (snap, close)
    skips: list[tuple[str, str]] = field(default_factory=list)  # (ticker, why)
    results: list[tuple[str, MarketResult]] = field(default_factory=list)
    reset: bool = False
    new_quotes: list[tuple[Quote, Decimal | None]] = field(default_factory=list)
    new_liquidity: list[tuple[Decimal, Decimal]] = field(default_factory=list)
    tickers: list[str] = field(default_factory=list)
    quote_ids: list[int] = field(default_factory=list)
    liquidity_ids: list[int] = field(default_factory=list)


class ReplayConverter:
    """Recorded snapshots -> ``PreparedBatch``: every decision about a snapshot, no exchange.

    Each ticker is listed on first sight (a snapshot without a usable close time skips its
    market instead); each later snapshot becomes a quote update; a malformed one skips its
    market (``skips``), never guessed. ``metadata["result"]`` reports a result unless one is
    known already (``known_results``).
    """

    def __init__(
        self, *, known_results: Iterable[str] = (), recorded_liquidity: bool = False
    ) -> None:
        self.recorded_liquidity = recorded_liquidity
        self._skipped: set[str] = set()
        self._seen: set[str] = set()
        self._results: set[str] = set(known_results)
        # Recorded values repeat (prices sit on a grid, a quiet market's quote stays put):
        # each distinct one is converted once and sent once, then referred to by number.
        self._quotes: dict[tuple[object, ...], int] = {}
        self._liquidity: dict[tuple[object, ...], int] = {}
        self._next_quote = 0
        self._next_liquidity = 0

    def prepare(self, snaps: Sequence[Snapshot]) -> PreparedBatch:
        """Convert ``snaps`` in order (one replay step: usually one timestamp's snapshots)."""
        out = PreparedBatch(snaps[0].timestamp if snaps else None, len(snaps))
        quotes, counts = self._quotes, self._liquidity
        if self._next_quote >= _CACHE_LIMIT or self._next_liquidity >= _CACHE_LIMIT:
            quotes.clear()
            counts.clear()
            self._next_quote = self._next_liquidity = 0
            out.reset = True
        skipped, seen, results = self._skipped, self._seen, self._results
        recorded = self.recorded_liquidity
        new_quotes, new_liquidity = out.new_quotes, out.new_liquidity
        tickers, quote_ids, liquidity_ids = out.tickers, out.quote_ids, out.liquidity_ids
        for snap in snaps:
            ticker = snap.ticker
            if ticker in skipped:
                continue
            if ticker not in seen:
                seen.add(ticker)
                out.first_seen.append((ticker, snap.category or ""))
                try:
                    out.listings.append((snap, listing_close(snap)))
                except ReplayError as e:
                    skipped.add(ticker)
                    out.skips.append((ticker, str(e)))
                    continue
            meta = snap.metadata
            yb, ya, nb, na, last = (
                snap.yes_bid,
                snap.yes_ask,
                snap.no_bid,
                snap.no_ask,
                snap.last_price,
            )
            if meta:
                bs, az = meta.get("yes_bid_size"), meta.get("yes_ask_size")
            else:
                bs = az = None
            # Each distinct recorded quote is converted once (``snapshot_quote``). Types are
            # part of the key: 1, 1.0 and True are equal keys but not equal inputs (a bool is
            # refused, a float size is none).
            key = (yb, ya, nb, na, last, bs, az, type(yb), type(ya), type(nb), type(na),
                   type(last), type(bs), type(az))  # fmt: skip
            cacheable = True
            try:
                qid = quotes.get(key)
            except TypeError:  # an unhashable size: convert it, never cache it
                cacheable, qid = False, None
            if qid is None:
                try:
                    hit = snapshot_quote(snap)  # errors are raised, never cached
                except ReplayError as e:
                    skipped.add(ticker)
                    out.skips.append((ticker, str(e)))
                    continue
                qid = self._next_quote
                self._next_quote += 1
                new_quotes.append(hit)
                if cacheable:
                    quotes[key] = qid
            if meta and ticker not in results:
                result = meta.get("result")
                if result in ("yes", "no", "void"):
                    results.add(ticker)
                    out.results.append((ticker, MarketResult(result)))
            lid = -1
            if recorded:
                vol, oi = snap.volume_24h, snap.open_interest
                lkey = (vol, oi, type(vol), type(oi))
                got = counts.get(lkey)
                if got is None:
                    got = counts[lkey] = self._next_liquidity
                    self._next_liquidity += 1
                    new_liquidity.append((recorded_count(vol), recorded_count(oi)))
                lid = got
            tickers.append(ticker)
            quote_ids.append(qid)
            liquidity_ids.append(lid)
        return out


class ReplayDriver:
    """Feeds recorded snapshots into an ``Exchange`` as quote-driven markets."""

    def __init__(
        self,
        exchange: Exchange,
        *,
        fill_model: FillModel | None = None,
        results: Mapping[str, MarketResult] | None = None,
        recorded_liquidity: bool = False,
    ) -> None:
        """``recorded_liquidity``: replayed markets show each snapshot's 24h volume and open
        interest (as a backtest's market data does) instead of the exchange's own counts."""
        self.exchange = exchange
        self.fill_model = fill_model or get_fill_model("conservative")
        self.results: dict[str, MarketResult] = dict(results or {})
        self.stats = ReplayStats()
        self.converter = ReplayConverter(
            known_results=self.results, recorded_liquidity=recorded_liquidity
        )
        self._unsettled: dict[str, datetime] = {}  # listed, not settled yet (by this driver)
        # What the converter sent, by number (see ``PreparedBatch``).
        self._quote_table: list[tuple[Quote, Decimal | None]] = []
        self._liquidity_table: list[tuple[Decimal, Decimal]] = []

    def apply(self, snap: Snapshot) -> None:
        """List the snapshot's market if new, then record its quote.

        The exchange's clock should already be at the snapshot's time. A malformed snapshot
        (no close time, bad prices) skips its market with the reason in ``stats.skipped``.
        """
        self.apply_all((snap,))

    def apply_all(self, snaps: Sequence[Snapshot]) -> None:
        """``apply`` each of ``snaps`` in order (the loop a backtest runs per snapshot)."""
        self.apply_prepared(self.converter.prepare(snaps))

    def apply_prepared(self, batch: PreparedBatch) -> None:
        """Apply what a converter made of a batch of snapshots: ``apply_all`` with the
        conversion done elsewhere (this driver's ``converter``, or one in another process
        fed the same snapshots from the start)."""
        self.stats.snapshots += batch.count  # seen, usable or not
        for snap, close in batch.listings:
            self._list(snap, close)
        for ticker, why in batch.skips:
            self.stats.skipped[ticker] = why
        for ticker, result in batch.results:  # a known result wins over a recorded one
            self.results.setdefault(ticker, result)
        quotes, liquidity = self._quote_table, self._liquidity_table
        if batch.reset:
            quotes.clear()
            liquidity.clear()
        quotes += batch.new_quotes
        liquidity += batch.new_liquidity
        self.exchange.update_quotes_if_active(
            (ticker, *quotes[q], liquidity[lid] if lid >= 0 else None)
            for ticker, q, lid in zip(
                batch.tickers, batch.quote_ids, batch.liquidity_ids, strict=True
            )
        )

    def settle_due(self) -> list[SettlementRecord]:
        """Settle every replayed market past its close whose result is known."""
        now = self.exchange.advance()
        out: list[SettlementRecord] = []
        done: list[str] = []
        for ticker, close in self._unsettled.items():  # in listing order, as listed
            if close > now:
                continue
            result = self.results.get(ticker)
            if result is None:
                continue
            done.append(ticker)  # settled here or already finalized: never looked at again
            if self.exchange.market_status(ticker) is MarketStatus.FINALIZED:
                continue
            out.extend(self.exchange.settle(ticker, result))
            self.stats.settled += 1
        for ticker in done:
            del self._unsettled[ticker]
        return out

    async def run(
        self,
        snapshots: AsyncIterator[Snapshot],
        clock: ManualClock,
        on_time: Callable[[datetime], Awaitable[None]] | None = None,
    ) -> ReplayStats:
        """Replay in time order: per timestamp, move the clock, apply its snapshots, settle
        what closed, then ``await on_time(ts)`` (where a backtest runs its trading cycle)."""
        batch: list[Snapshot] = []
        async for snap in snapshots:
            if batch and snap.timestamp != batch[0].timestamp:
                await self._step(batch, clock, on_time)
                batch = []
            batch.append(snap)
        if batch:
            await self._step(batch, clock, on_time)
        return self.stats

    async def _step(
        self,
        batch: list[Snapshot],
        clock: ManualClock,
        on_time: Callable[[datetime], Awaitable[None]] | None,
    ) -> None:
        when = batch[0].timestamp
        if when > clock.now():
            clock.set(when)
        self.apply_all(batch)
        self.settle_due()
        if on_time is not None:
            await on_time(when)

    def _list(self, snap: Snapshot, close: datetime) -> None:
        meta = snap.metadata or {}
        event = str(meta.get("event_ticker") or snap.ticker.rsplit("-", 1)[0])
        spec = MarketSpec(
            ticker=snap.ticker,
            event_ticker=event,
            close_time=close,
            series_ticker=str(meta.get("series_ticker") or event.split("-", 1)[0]),
            title=snap.title or "",
            subtitle=str(meta.get("subtitle") or ""),
            category=snap.category or "",
        )
        self.exchange.add_quoted_market(spec, self.fill_model)
        self._unsettled[snap.ticker] = close
        self.stats.markets += 1


def listing_close(snap: Snapshot) -> datetime:
    """The close time a snapshot lists its market with; ``ReplayError`` without a usable one."""
    if not snap.close_time:
        raise ReplayError("snapshot has no close_time")
    try:
        return parse_iso(snap.close_time)
    except ValueError as e:
        raise ReplayError(f"bad close_time {snap.close_time!r}") from e


def snapshot_quote(snap: Snapshot) -> tuple[Quote, Decimal | None]:
    """The YES-leg quote (and last price) a snapshot recorded; a side may be missing.

    REAL columns are converted here, at the boundary, to 4-decimal Decimals. NO-side columns
    fill a missing YES side (yes_bid = 1 - no_ask). Crossed or out-of-range quotes are errors.
    """
    yes_bid = _price(snap.yes_bid, "yes_bid")
    yes_ask = _price(snap.yes_ask, "yes_ask")
    if yes_bid is None and snap.no_ask is not None:
        no_ask = _price(snap.no_ask, "no_ask")
        yes_bid = None if no_ask is None else 1 - no_ask
    if yes_ask is None and snap.no_bid is not None:
        no_bid = _price(snap.no_bid, "no_bid")
        yes_ask = None if no_bid is None else 1 - no_bid
    if yes_bid is not None and yes_ask is not None and yes_bid > yes_ask:
        raise ReplayError(f"crossed quote {yes_bid} > {yes_ask} at {snap.timestamp}")
    meta = snap.metadata or {}
    return (
        Quote(
            yes_bid=yes_bid if yes_bid else None,  # a 0 bid is no bid
            yes_ask=yes_ask if yes_ask is not None and yes_ask < 1 else None,
            yes_bid_size=_size(meta.get("yes_bid_size")),
            yes_ask_size=_size(meta.get("yes_ask_size")),
        ),
        _price(snap.last_price, "last_price") or None,
    )


def recorded_count(value: int | None) -> Decimal:
    """A recorded volume or open interest; missing or negative counts show as 0."""
    return Decimal(value) if value is not None and value > 0 else Decimal(0)


def _price(value: float | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        d = Decimal(str(value)).quantize(_TICK)
    except InvalidOperation as e:
        raise ReplayError(f"bad {name} {value!r}") from e
    if not 0 <= d <= 1:
        raise ReplayError(f"{name} {value!r} outside [0, 1]")
    return d


def _size(value: object) -> Decimal:
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            d = Decimal(value)
        except InvalidOperation:
            return Decimal(0)
        return d if d > 0 else Decimal(0)
    return Decimal(0)
