"""The one loop: market data -> screen -> analyse -> decide -> risk/size -> execute -> track
-> record -> performance. Identical in every mode; modes differ only in what is plugged in.

``TradingEngine.run_cycle()`` runs exactly one cycle at the injected clock's time, so a live
runner, the demo and the backtest's replay driver all drive the same code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from kalbot.domain.context import MarketContext, PricePoint
from kalbot.domain.decisions import Analysis, Decision, DecisionResult, RiskState
from kalbot.domain.market import Market, MarketStatus
from kalbot.domain.orders import Action, TimeInForce
from kalbot.domain.prices import ONE, ZERO, Side
from kalbot.engine.book import ExitRules, PositionBook
from kalbot.engine.execution import OrderDesk
from kalbot.engine.ids import client_order_id
from kalbot.engine.reconcile import Mismatch, find_mismatches
from kalbot.engine.records import (
    ClosedPart,
    CycleSummary,
    DecisionRecord,
    OpenPosition,
    OrderRecord,
    OrderState,
    PerformanceRow,
    Purpose,
    RiskEvent,
)
from kalbot.engine.store import TradingStore
from kalbot.ports import Analyst, Broker, Clock, MarketData
from kalbot.risk.manager import BookState, RiskManager
from kalbot.screener.filters import Screener
from kalbot.strategy.base import PortfolioView, Strategy, StrategyContext

log = logging.getLogger("kalbot.engine")


class SpendSource(Protocol):
    """Where the loop reads today's AI spend and the budget in force (the store)."""

    async def ai_spend(self, day: date, now: datetime) -> tuple[Decimal, Decimal]: ...

    async def ai_budget_override(self) -> Decimal | None:
        """The daily budget set by ``kalbot ai budget --set`` (it wins over the config's)."""
        ...


class CycleRecorder(Protocol):
    """The LiveDataRecorder's face to the loop (``kalbot.recorder``)."""

    async def record(self, markets: Sequence[Market], now: datetime) -> int: ...


@dataclass(frozen=True, slots=True)
class EngineConfig:
    mode: str = "paper"
    exits: ExitRules = field(default_factory=ExitRules)
    history_length: int = 60
    analysis_concurrency: int = 4
    ai_budget: Decimal = Decimal(10)
    state_lookback: timedelta = timedelta(days=1)
    fill_overlap: timedelta = timedelta(minutes=5)
    max_result_lookups: int = 50
    # Live: refuse to start while the exchange's positions differ from the database's.
    require_reconciled: bool = False


class ReconcileRequired(RuntimeError):
    """The exchange and the database disagree; run ``kalbot reconcile --apply``."""

    def __init__(self, mismatches: list[Mismatch]) -> None:
        super().__init__(
            "exchange and database disagree: "
            + "; ".join(m.describe() for m in mismatches)
            + " — run `kalbot reconcile --apply` (the exchange is the truth)"
        )
        self.mismatches = mismatches


class TradingEngine:
    def __init__(
        self,
        *,
        market_data: MarketData,
        broker: Broker,
        analyst: Analyst,
        strategy: Strategy,
        screener: Screener,
        risk: RiskManager,
        store: TradingStore,
        clock: Clock,
        config: EngineConfig | None = None,
        recorder: CycleRecorder | None = None,
        spend: SpendSource | None = None,
    ) -> None:
        self.market_data = market_data
        self.broker = broker
        # A broker that can read the exchange's settlement records (KalshiBroker) closes
        # positions in markets finalized without a readable result; others have results.
        self._payout_of: Callable[[str], Awaitable[Decimal | None]] | None = getattr(
            broker, "settlement_payout", None
        )
        self.analyst = analyst
        self.strategy = strategy
        self.screener = screener
        self.risk = risk
        self.store = store
        self.clock = clock
        self.cfg = config or EngineConfig()
        self.recorder = recorder
        self.spend = spend
        self.book = PositionBook()
        self.desk = OrderDesk(broker, store, self.book, self.cfg.fill_overlap)
        self.desk.on_close = self._on_close
        self.cycle_id = 0
        self.risk_state = RiskState.ACTIVE
        self.peak_equity: Decimal | None = None
        self.day_start: tuple[object, Decimal] | None = None
        self.max_drawdown = ZERO
        self.last_close: dict[str, datetime] = {}
        self.stopouts: list[datetime] = []
        # Per market, its last ``history_length`` points, oldest first. A list, not a deque:
        # the strategy gets a tuple copy per market per cycle, four times faster from a list.
        self.history: dict[str, list[PricePoint]] = {}
        self._screen_reason: dict[str, str] = {}
        self._started = False
        self._risk_logged = False
        self._exited: set[int] = set()

    # -- start-up ------------------------------------------------------------------------
    async def start(self, *, reconcile_check: bool = True) -> None:
        """Reload state so a restart continues without losing a fill or doubling an order."""
        now = self.clock.now()
        st = await self.store.load_engine_state(now, self.cfg.state_lookback)
        self.cycle_id = st.last_cycle_id
        self.book.by_id = {p.id: p for p in st.open_positions}
        self.desk.last_fill_ts = st.last_fill_ts
        for o in st.in_flight_orders:
            self.desk.orders[o.client_order_id] = o
        self.risk_state = st.risk_state
        self.peak_equity = st.peak_equity
        if st.day_start_equity is not None:
            self.day_start = (now.date(), st.day_start_equity)
        self.max_drawdown = st.max_drawdown
        self.last_close = dict(st.last_close)
        self.stopouts = list(st.stopouts)
        rows: list[DecisionRecord] = []
        await self.desk.sync_fills({}, now, self.cycle_id, rows, self.strategy.name)
        # Orders never acknowledged before a crash: their fills (if any) were just applied;
        # they are not resent, so the decision they carried cannot be doubled.
        for o in list(self.desk.orders.values()):
            if o.status is OrderState.PENDING:
                o.status = OrderState.ERROR
                o.error = "unacknowledged at restart"
                await self.store.update_order(
                    o.client_order_id, status=o.status, error=o.error, now=now
                )
        self.desk._forget_settled()
        await self.store.add_decisions(rows)
        if self.cfg.require_reconciled and reconcile_check:
            mismatches = await find_mismatches(self.broker, self.book)
            if mismatches:
                raise ReconcileRequired(mismatches)
        self._started = True
        log.info(
            "engine started: cycle %s, %s open positions, risk %s",
            self.cycle_id,
            len(self.book),
            self.risk_state.value,
        )

    async def load(self) -> None:
        """Reload state without the reconciliation check (reconcile, close-all)."""
        await self.start(reconcile_check=False)

    async def close_all(self, dry_run: bool = True) -> list[str]:
        """Flatten every open position with an IOC sell at the bid; dry-run only lists them."""
        if not self._started:
            await self.load()
        now = self.clock.now()
        rows: list[DecisionRecord] = []
        lines: list[str] = []
        markets: dict[str, Market] = {}
        for pos in list(self.book.by_id.values()):
            try:
                m = markets[pos.ticker] = await self.market_data.market(pos.ticker)
            except Exception as e:
                lines.append(f"{pos.ticker}: cannot read the market ({e})")
                continue
            bid = m.quote.bid(pos.side)
            what = f"sell {pos.quantity} {pos.side.value.upper()} {pos.ticker} at {bid}"
            if dry_run:
                lines.append(f"would {what}")
                continue
            key = f"close_all:{pos.id}:{now.isoformat()}"
            placed = await self._exit(pos, m, "close_all", now, rows, key)
            lines.append(("sent: " if placed else "not sent: ") + what)
        if not dry_run:
            await self.desk.sync_fills(markets, now, self.cycle_id, rows, self.strategy.name)
            await self.store.add_decisions(rows)
            lines.append(f"{len(self.book)} positions still open")
        return lines

    async def resume_risk(self, reason: str = "operator_resume") -> None:
        """Clear a sticky HALTED state (an operator's decision)."""
        self.risk_state = RiskState.ACTIVE
        eq = self.peak_equity or ZERO
        await self.store.add_risk_event(
            RiskEvent(self.clock.now(), RiskState.ACTIVE, reason, "", eq, eq, eq)
        )

    # -- one cycle -----------------------------------------------------------------------
    async def run_cycle(self) -> CycleSummary:
        if not self._started:
            await self.start()
        now = self.clock.now()
        self.cycle_id += 1
        s = CycleSummary(self.cycle_id, now, self.cfg.mode, self.strategy.name)
        rows: list[DecisionRecord] = []
        self._exited.clear()
        # A source may offer the whole list at once (``open_market_list``, as the simulated
        # exchange and the replay do): one await instead of one async step per market.
        lister = getattr(self.market_data, "open_market_list", None)
        if lister is not None:
            markets: list[Market] = list(await lister())
        else:
            markets = [m async for m in self.market_data.open_markets()]
        by_ticker = {m.ticker: m for m in markets}
        s.markets_seen = len(markets)
        self._update_history(markets, by_ticker, now)

        await self.desk.cancel_resting(now)
        s.fills += await self.desk.sync_fills(
            by_ticker, now, self.cycle_id, rows, self.strategy.name
        )
        s.errors += await self._settle(by_ticker, now, rows)

        cash, equity = await self._equity(by_ticker)
        await self._assess_risk(now, cash, equity)
        s.orders += await self._protective_exits(by_ticker, now, rows)

        screened = self.screener.screen(markets, now)
        s.screened_out = dict(screened.counts)
        self._log_screen(screened.rejected, now, rows)
        can_handle = self.strategy.can_handle
        candidates = [m for m in screened.passed if can_handle(m)]
        held = {p.ticker for p in self.book.by_id.values()}
        candidates += [
            by_ticker[t]
            for t in sorted(held)
            if t in by_ticker and t in screened.rejected and self.strategy.can_handle(by_ticker[t])
        ]
        orders, analysed, errors = await self._decide_all(candidates, now, cash, equity, rows)
        s.orders += orders
        s.analysed = analysed
        s.errors += errors
        s.fills += await self.desk.sync_fills(
            by_ticker, now, self.cycle_id, rows, self.strategy.name
        )

        if self.recorder is not None:
            try:
                await self.recorder.record(markets, now)
            except Exception as e:  # recording must never stop trading
                log.exception("recorder failed")
                s.errors += 1
                rows.append(
                    DecisionRecord(
                        self.cycle_id, now, "*", "record", "error", "recorder_error", str(e)[:300]
                    )
                )
        cash, equity = await self._equity(by_ticker)
        await self._performance(s, now, cash, equity)
        s.ai_budget = self.cfg.ai_budget
        if self.spend is not None:
            try:
                spent, reserved = await self.spend.ai_spend(now.date(), now)
                s.ai_spend_today = spent + reserved
            except Exception as e:
                log.warning("AI spend lookup failed: %s", e)
            try:  # the budget in force: one set in the database wins, as when reserving
                override = await self.spend.ai_budget_override()
            except Exception as e:
                log.warning("AI budget lookup failed (showing the configured one): %s", e)
            else:
                if override is not None:
                    s.ai_budget = override
        s.open_positions = len(self.book)
        s.risk_state = self.risk_state
        s.finished_at = self.clock.now()
        await self.store.add_decisions(rows)
        await self.store.add_cycle(s)
        log.info(s.line())
        return s

    # -- steps ---------------------------------------------------------------------------
    def _update_history(
        self, markets: Sequence[Market], by_ticker: dict[str, Market], now: datetime
    ) -> None:
        history = self.history
        get = history.get
        length = self.cfg.history_length
        # Markets showing the very same price objects at this instant share one (immutable)
        # point: building a point per market per cycle was a tenth of a backtest's time.
        # Keyed by identity, not value: Decimal("0.4") == Decimal("0.40") but prints apart.
        points: dict[tuple[int, int, int], PricePoint] = {}
        for m in markets:
            h = get(m.ticker)
            if h is None:
                h = history[m.ticker] = []
            q = m.quote
            bid, ask, last = q.yes_bid, q.yes_ask, m.last_price
            key = (id(bid), id(ask), id(last))  # the objects live in ``markets`` meanwhile
            p = points.get(key)
            if p is None:
                p = points[key] = PricePoint(now, bid, ask, last)
            h.append(p)
            if len(h) > length:  # one over at most: drop the oldest
                del h[0]
        if len(history) > len(by_ticker):  # some market is gone: forget its history
            for t in [t for t in history if t not in by_ticker]:
                del history[t]

    async def _equity(self, by_ticker: dict[str, Market]) -> tuple[Decimal, Decimal]:
        cash = await self.broker.balance()
        return cash, cash + self.book.mark(by_ticker)

    async def _settle(
        self, by_ticker: dict[str, Market], now: datetime, rows: list[DecisionRecord]
    ) -> int:
        """Close positions whose market has a result; $1.00 per winning contract."""
        errors = 0
        gone = [p for p in self.book.by_id.values() if p.ticker not in by_ticker]
        for pos in gone[: self.cfg.max_result_lookups]:
            try:
                m = await self.market_data.market(pos.ticker)
            except Exception as e:
                log.warning("result lookup for %s failed: %s", pos.ticker, e)
                errors += 1
                continue
            if m.result is not None:
                change = self.book.settlement_change(pos, m.result, now, m.settlement_value)
            elif m.status is MarketStatus.FINALIZED and self._payout_of is not None:
                # Finalized without a readable result (Kalshi shows a void as ``""``): close at
                # what the exchange's own settlement record paid per contract.
                try:
                    payout = await self._payout_of(pos.ticker)
                except Exception as e:
                    log.warning("settlement lookup for %s failed: %s", pos.ticker, e)
                    errors += 1
                    continue
                if payout is None or not ZERO <= payout <= ONE:
                    continue
                change = self.book.exchange_settlement_change(pos, payout, now)
            else:
                continue
            if change is None:
                continue
            pid = await self.store.apply_position_change(change)
            closed = self.book.apply(change, pid)
            if pid is None or closed is None:
                self.book.by_id.pop(pos.id, None)
                continue
            self._on_close(pos.ticker, closed)
            rows.append(
                DecisionRecord(
                    self.cycle_id, now, pos.ticker, "settlement", "closed", closed.close_reason,
                    detail=f"pnl {closed.pnl:.4f}", quantity=closed.quantity,
                    price=closed.exit_price,
                )
            )  # fmt: skip
            log.info(
                "settled %s %s x%s: %s pnl %s",
                pos.ticker,
                pos.side.value,
                pos.quantity,
                closed.close_reason,
                closed.pnl,
            )
        return errors

    def _on_close(self, ticker: str, closed: ClosedPart) -> None:
        self.last_close[ticker] = closed.exit_time
        if closed.close_reason == "stop_loss":
            self.stopouts.append(closed.exit_time)

    def _book_state(self, cash: Decimal, equity: Decimal, now: datetime) -> BookState:
        total, ev, cat = self.book.exposure()
        pending, per_ticker = self.desk.pending_open_cost()
        horizon = now - self.risk.cfg.stopout_window
        self.stopouts = [t for t in self.stopouts if t >= horizon]
        return BookState(
            cash=cash - pending,
            equity=equity,
            peak_equity=self.peak_equity or equity,
            day_start_equity=self.day_start[1] if self.day_start else equity,
            realized_today=self._realized_today,
            open_positions=len(self.book)
            + len([t for t in per_ticker if self.book.for_ticker(t) is None]),
            total_exposure=total + pending,
            exposure_by_event=ev,
            exposure_by_category=cat,
            busy_tickers=frozenset(
                self.desk.busy_tickers() | {p.ticker for p in self.book.by_id.values()}
            ),
            last_close=self.last_close,
            stopouts=tuple(self.stopouts),
        )

    _realized_today = ZERO

    async def _assess_risk(self, now: datetime, cash: Decimal, equity: Decimal) -> None:
        if self.day_start is None or self.day_start[0] != now.date():
            self.day_start = (now.date(), equity)
        self.peak_equity = equity if self.peak_equity is None else max(self.peak_equity, equity)
        stats = await self.store.day_stats(now.date())
        self._realized_today = stats.realized_pnl
        a = self.risk.assess(self._book_state(cash, equity, now), now, self.risk_state)
        if a.state is not self.risk_state:
            log.warning(
                "risk state %s -> %s (%s)", self.risk_state.value, a.state.value, a.reason_code
            )
        if a.state is not self.risk_state or not self._risk_logged:
            self._risk_logged = True
            await self.store.add_risk_event(
                RiskEvent(
                    now,
                    a.state,
                    a.reason_code,
                    a.detail,
                    equity,
                    self.peak_equity,
                    self.day_start[1],
                )
            )
        self.risk_state = a.state

    async def _exit(
        self,
        pos: OpenPosition,
        market: Market,
        reason: str,
        now: datetime,
        rows: list[DecisionRecord],
        key: str | None = None,
    ) -> int:
        if self.desk.busy_position(pos.id) or pos.id in self._exited:
            return 0
        # One exit per position per cycle: a protective exit and a strategy CLOSE in the same
        # cycle would otherwise ask twice.
        self._exited.add(pos.id)
        bid = market.quote.bid(pos.side)
        if bid is None or bid <= ZERO:
            rows.append(
                DecisionRecord(self.cycle_id, now, pos.ticker, "exit", "refused", "no_bid", reason)
            )
            return 0
        order = OrderRecord(
            client_order_id=client_order_id(
                pos.ticker, pos.side, Action.SELL, key or f"exit:{pos.id}:{self.cycle_id}"
            ),
            ticker=pos.ticker, side=pos.side, action=Action.SELL, purpose=Purpose.CLOSE,
            count=pos.quantity, limit_price=bid, time_in_force=TimeInForce.IOC,
            created_at=now, cycle_id=self.cycle_id, reason=reason, position_id=pos.id,
        )  # fmt: skip
        return 1 if await self.desk.place(order, market, now, rows) else 0

    async def _protective_exits(
        self, by_ticker: dict[str, Market], now: datetime, rows: list[DecisionRecord]
    ) -> int:
        n = 0
        for pos in list(self.book.by_id.values()):
            m = by_ticker.get(pos.ticker)
            if m is None:
                continue
            reason = self.cfg.exits.reason(pos, m, now)
            if reason is not None:
                n += await self._exit(pos, m, reason, now, rows)
        return n

    def _log_screen(
        self, rejected: dict[str, str], now: datetime, rows: list[DecisionRecord]
    ) -> None:
        # Only changes are written, so thousands of rejected markets cost nothing per cycle.
        for t, why in rejected.items():
            if self._screen_reason.get(t) != why:
                rows.append(DecisionRecord(self.cycle_id, now, t, "screen", "rejected", why))
        self._screen_reason = dict(rejected)

    async def _analyse(self, ctx: MarketContext, sem: asyncio.Semaphore) -> Analysis | Exception:
        async with sem:
            try:
                return await self.analyst.analyze(ctx)
            except Exception as e:  # one market's analyst failure never stops the loop
                log.exception("analyst failed for %s", ctx.market.ticker)
                return e

    async def _analyse_all(
        self, contexts: Sequence[MarketContext]
    ) -> Sequence[Analysis | Exception]:
        """Every context's analysis (or the exception it raised), in order.

        An analyst offering ``analyze_many`` (the free heuristic) gets the whole cycle at once
        so its store reads and writes are batched; any other is called per market, at most
        ``analysis_concurrency`` at a time.
        """
        many = getattr(self.analyst, "analyze_many", None)
        if many is not None:
            try:
                results: Sequence[Analysis | Exception] = await many(contexts)
            except Exception as e:  # the analyst's failure never stops the loop
                log.exception("analyst failed for %d markets", len(contexts))
                return [e] * len(contexts)
            if len(results) != len(contexts):
                raise RuntimeError("analyze_many returned a result count unlike its input")
            return results
        sem = asyncio.Semaphore(self.cfg.analysis_concurrency)
        return await asyncio.gather(*(self._analyse(c, sem) for c in contexts))

    async def _decide_all(
        self,
        candidates: list[Market],
        now: datetime,
        cash: Decimal,
        equity: Decimal,
        rows: list[DecisionRecord],
    ) -> tuple[int, int, int]:
        book = self._book_state(cash, equity, now)
        todo: list[Market] = []
        risk_state, cycle = self.risk_state, self.cycle_id
        # Tickers with an open position: nothing changes the book before the last loop below.
        held_now = self.book.tickers()
        # Every market without a position is prechecked in one call (the same answers, in
        # candidate order).
        pres = iter(
            self.risk.precheck_all(
                [m.ticker for m in candidates if m.ticker not in held_now], book, now, risk_state
            )
        )
        busy: set[str] | None = None
        name = self.strategy.name
        for m in candidates:
            if m.ticker not in held_now:
                pre = next(pres)
                if pre is not None:
                    # Refused before the analyst is paid: no trade could follow.
                    # (positional: keyword construction costs twice as much, per market)
                    rows.append(
                        DecisionRecord(cycle, now, m.ticker, "risk", "refused", pre, "", None, name)
                    )
                    continue
            else:
                if busy is None:  # nothing is placed before the loop below: one look serves
                    busy = self.desk.busy_tickers()
                if m.ticker in busy:
                    continue
            todo.append(m)
        history, held = self.history, self.book.held
        histories = [tuple(history.get(m.ticker, ())) for m in todo]
        positions = [held(m.ticker) if m.ticker in held_now else None for m in todo]
        analyses: list[Analysis | Exception | None] = [None] * len(todo)
        if self.strategy.needs_analysis and todo:
            contexts = [
                MarketContext(m, now, h, p)
                for m, h, p in zip(todo, histories, positions, strict=True)
            ]
            analyses = list(await self._analyse_all(contexts))
        orders = errors = 0
        analysed = sum(1 for a in analyses if isinstance(a, Analysis))
        portfolio = PortfolioView(cash, equity, len(self.book), book.total_exposure)
        decide, skip = self.strategy.decide, Decision.SKIP
        for m, h, position, a in zip(todo, histories, positions, analyses, strict=True):
            if isinstance(a, Exception):
                errors += 1
                rows.append(
                    DecisionRecord(
                        self.cycle_id,
                        now,
                        m.ticker,
                        "analysis",
                        "error",
                        "analyst_error",
                        f"{type(a).__name__}: {a}"[:300],
                    )
                )
                continue
            sctx = StrategyContext(m, now, h, position, portfolio, a)
            try:
                d = decide(sctx)
            except Exception as e:  # a strategy bug for one market never stops the loop
                log.exception("strategy %s failed for %s", self.strategy.name, m.ticker)
                errors += 1
                rows.append(
                    DecisionRecord(
                        self.cycle_id,
                        now,
                        m.ticker,
                        "strategy",
                        "error",
                        "strategy_error",
                        f"{type(e).__name__}: {e}"[:300],
                        strategy=self.strategy.name,
                    )
                )
                continue
            if d.decision is skip:  # most markets, every cycle: no coroutine, no lookups
                rows.append(
                    DecisionRecord(
                        cycle, now, m.ticker, "strategy", "skipped", d.reason, d.reason,
                        d.decision, name, d.confidence, None, None,
                    )
                )  # fmt: skip
                continue
            orders += await self._act(m, d, now, cash, equity, rows)
        return orders, analysed, errors

    async def _act(
        self,
        m: Market,
        d: DecisionResult,
        now: datetime,
        cash: Decimal,
        equity: Decimal,
        rows: list[DecisionRecord],
    ) -> int:
        name = self.strategy.name
        if d.decision is Decision.SKIP:  # most markets, every cycle: no closure, no lookups
            rows.append(
                DecisionRecord(
                    self.cycle_id, now, m.ticker, "strategy", "skipped", d.reason, d.reason,
                    d.decision, name, d.confidence, None, None,
                )
            )  # fmt: skip
            return 0

        def note(
            stage: str,
            outcome: str,
            code: str,
            detail: str = "",
            qty: Decimal | None = None,
            price: Decimal | None = None,
        ) -> None:
            rows.append(
                DecisionRecord(
                    self.cycle_id, now, m.ticker, stage, outcome, code, detail or d.reason,
                    d.decision, name, d.confidence, qty, price,
                )
            )  # fmt: skip

        pos = self.book.for_ticker(m.ticker)
        if d.decision is Decision.CLOSE:
            if pos is None:
                note("strategy", "skipped", "nothing_to_close")
                return 0
            return await self._exit(pos, m, "strategy_close", now, rows)
        if pos is not None:
            note("risk", "refused", "already_positioned")
            return 0
        v = self.risk.size(d, m, self._book_state(cash, equity, now), now, self.risk_state)
        if not v.approved or v.side is None or v.price is None:
            log.info("refused %s %s: %s %s", m.ticker, d.decision.value, v.reason_code, v.detail)
            note("risk", "refused", v.reason_code, v.detail)
            return 0
        outcome = "shrunk" if v.shrunk_by else "approved"
        note("risk", outcome, ",".join(v.shrunk_by) or d.reason, d.reason, v.quantity, v.price)
        side: Side = v.side
        order = OrderRecord(
            client_order_id=client_order_id(m.ticker, side, Action.BUY, f"open:{self.cycle_id}"),
            ticker=m.ticker, side=side, action=Action.BUY, purpose=Purpose.OPEN,
            count=v.quantity, limit_price=v.price, time_in_force=TimeInForce.IOC,
            created_at=now, cycle_id=self.cycle_id, reason=f"{name}: {d.reason}",
        )  # fmt: skip
        return 1 if await self.desk.place(order, m, now, rows) else 0

    async def _performance(
        self, s: CycleSummary, now: datetime, cash: Decimal, equity: Decimal
    ) -> None:
        day = now.date()
        if self.day_start is None or self.day_start[0] != day:
            self.day_start = (day, equity)
        self.peak_equity = equity if self.peak_equity is None else max(self.peak_equity, equity)
        if self.peak_equity > ZERO:
            self.max_drawdown = max(
                self.max_drawdown, (self.peak_equity - equity) / self.peak_equity
            )
        stats = await self.store.day_stats(day)
        start_eq = self.day_start[1]
        row = PerformanceRow(
            day=day,
            total_pnl=stats.realized_pnl,
            num_trades=stats.closed_trades,
            win_rate=(Decimal(stats.wins) / stats.closed_trades) if stats.closed_trades else None,
            portfolio_value=equity,
            daily_return=((equity - start_eq) / start_eq) if start_eq > ZERO else None,
            max_drawdown=self.max_drawdown,
        )
        await self.store.upsert_performance(row)
        s.pnl_today = stats.realized_pnl
        s.equity = equity
        s.cash = cash
