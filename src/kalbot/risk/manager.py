"""Pre-trade risk: the risk state (ACTIVE / REDUCING / HALTED) and sizing with caps.

Every refusal and every shrink carries a reason code; the engine logs and stores them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Literal

from kalbot.domain.decisions import Decision, DecisionResult, RiskState
from kalbot.domain.fees import taker_fee
from kalbot.domain.market import Market
from kalbot.domain.pnl import kelly_fraction
from kalbot.domain.prices import ONE, ZERO, Side
from kalbot.strategy.base import fee_per_contract, side_probability

Sizing = Literal["kelly", "fixed", "proportional"]


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """Limits (RiskSettings feeds these in bootstrap; defaults are the settings' defaults)."""

    kelly_fraction: Decimal = Decimal("0.25")
    sizing: Sizing = "kelly"
    fixed_contracts: int = 10
    proportional_fraction: Decimal = Decimal("0.01")
    max_position_dollars: Decimal = Decimal(100)
    max_position_share: Decimal = Decimal("0.05")
    max_open_positions: int = 20
    max_total_exposure: Decimal = Decimal(2000)
    max_event_exposure: Decimal = Decimal(300)
    max_category_exposure: Decimal = Decimal(800)
    min_cash_reserve: Decimal = Decimal(100)
    max_daily_loss: Decimal = Decimal(200)
    max_drawdown: Decimal = Decimal("0.20")
    max_stopouts: int = 3
    stopout_window: timedelta = timedelta(minutes=120)
    cooldown: timedelta = timedelta(minutes=60)


@dataclass(frozen=True, slots=True)
class BookState:
    """The portfolio as the risk manager needs it, built by the engine each cycle."""

    cash: Decimal
    equity: Decimal  # cash + open positions marked at the bid
    peak_equity: Decimal
    day_start_equity: Decimal
    realized_today: Decimal = ZERO
    open_positions: int = 0
    total_exposure: Decimal = ZERO  # cost basis of open positions
    exposure_by_event: Mapping[str, Decimal] = field(default_factory=dict)
    exposure_by_category: Mapping[str, Decimal] = field(default_factory=dict)
    busy_tickers: frozenset[str] = frozenset()  # open position or order in flight
    last_close: Mapping[str, datetime] = field(default_factory=dict)
    stopouts: tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    state: RiskState
    reason_code: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RiskVerdict:
    """Approved with a quantity, or refused with the reason; ``shrunk_by`` names binding caps."""

    approved: bool
    reason_code: str
    quantity: Decimal = ZERO
    side: Side | None = None
    price: Decimal | None = None
    shrunk_by: tuple[str, ...] = ()
    detail: str = ""


def _refuse(code: str, detail: str = "") -> RiskVerdict:
    return RiskVerdict(False, code, detail=detail)


class RiskManager:
    """Stateless checks over a BookState; the engine owns (and stores) the state it feeds in."""

    def __init__(self, cfg: RiskConfig | None = None) -> None:
        self.cfg = cfg or RiskConfig()

    def assess(
        self, book: BookState, now: datetime, previous: RiskState = RiskState.ACTIVE
    ) -> RiskAssessment:
        """The circuit breakers. HALTED (drawdown) is sticky until an operator resumes."""
        c = self.cfg
        if previous is RiskState.HALTED:
            return RiskAssessment(RiskState.HALTED, "halted_until_resumed")
        if book.peak_equity > ZERO:
            drawdown = (book.peak_equity - book.equity) / book.peak_equity
            if drawdown >= c.max_drawdown:
                return RiskAssessment(
                    RiskState.HALTED, "max_drawdown", f"drawdown {drawdown:.4f} >= {c.max_drawdown}"
                )
        loss = max(-book.realized_today, book.day_start_equity - book.equity)
        if loss >= c.max_daily_loss:
            return RiskAssessment(
                RiskState.REDUCING, "daily_loss_limit", f"loss {loss:.2f} >= {c.max_daily_loss}"
            )
        recent = [t for t in book.stopouts if now - t <= c.stopout_window]
        if len(recent) >= c.max_stopouts:
            return RiskAssessment(
                RiskState.REDUCING,
                "stoploss_guard",
                f"{len(recent)} stop-outs within {c.stopout_window}",
            )
        return RiskAssessment(RiskState.ACTIVE, "ok")

    def precheck(self, ticker: str, book: BookState, now: datetime, state: RiskState) -> str | None:
        """Reasons an open would be refused whatever its size (checked before paying an analyst)."""
        return self.precheck_all((ticker,), book, now, state)[0]

    def precheck_all(
        self, tickers: Sequence[str], book: BookState, now: datetime, state: RiskState
    ) -> list[str | None]:
        """``precheck`` of each of ``tickers``, in order: halted or reducing refuses all; then
        a ticker already positioned (or with an order in flight), one closed within the
        cooldown, or the open-position limit reached. The engine asks for every candidate
        market each cycle in one call, with the rules read once."""
        if state is RiskState.HALTED:
            return ["risk_halted"] * len(tickers)
        if state is RiskState.REDUCING:
            return ["risk_reducing"] * len(tickers)
        busy, last_close = book.busy_tickers, book.last_close
        horizon = now - self.cfg.cooldown  # now - last < cooldown  <=>  last > horizon
        full = "max_open_positions" if book.open_positions >= self.cfg.max_open_positions else None
        out: list[str | None] = []
        append = out.append
        for ticker in tickers:
            if ticker in busy:
                append("already_positioned")
                continue
            last = last_close.get(ticker)
            append("cooldown" if last is not None and last > horizon else full)
        return out

    def size(
        self,
        decision: DecisionResult,
        market: Market,
        book: BookState,
        now: datetime,
        state: RiskState,
    ) -> RiskVerdict:
        """Approve and size an OPEN decision, or refuse it with a reason code."""
        c = self.cfg
        if decision.decision not in (Decision.OPEN_YES, Decision.OPEN_NO):
            return _refuse("not_an_open")
        pre = self.precheck(market.ticker, book, now, state)
        if pre is not None:
            return _refuse(pre)
        side = Side.YES if decision.decision is Decision.OPEN_YES else Side.NO
        price = decision.limit_price if decision.limit_price is not None else market.quote.ask(side)
        if price is None or price <= ZERO or price >= ONE:
            return _refuse("no_price", f"limit {price}")

        fee_pc = fee_per_contract(price)
        unit = price + fee_pc
        p_side = (
            None
            if decision.probability_yes is None
            else side_probability(decision.probability_yes, side)
        )
        if c.sizing == "kelly":
            if p_side is None:
                return _refuse("no_probability")
            f = kelly_fraction(p_side, price, fee_pc) * c.kelly_fraction
            if f <= ZERO:
                return _refuse("no_edge_after_fees")
            budget = f * book.equity
        elif c.sizing == "fixed":
            n = Decimal(c.fixed_contracts)
            budget = n * price + taker_fee(n, price)
        else:
            budget = c.proportional_fraction * book.equity

        caps = [
            ("max_position_dollars", c.max_position_dollars),
            ("max_position_share", c.max_position_share * book.equity),
            ("max_total_exposure", c.max_total_exposure - book.total_exposure),
            (
                "max_event_exposure",
                c.max_event_exposure - book.exposure_by_event.get(market.event_ticker, ZERO),
            ),
            (
                "max_category_exposure",
                c.max_category_exposure - book.exposure_by_category.get(market.category, ZERO),
            ),
            ("min_cash_reserve", book.cash - c.min_cash_reserve),
        ]
        dollars = budget
        shrunk: list[str] = []
        for code, cap in caps:
            if cap < dollars:
                dollars = cap
                shrunk.append(code)
        qty = (max(dollars, ZERO) / unit).to_integral_value(rounding=ROUND_FLOOR)
        if decision.quantity is not None and decision.quantity < qty:
            qty = decision.quantity.to_integral_value(rounding=ROUND_FLOOR)
        # Fees round up per order, so re-check the exact cost against the budget.
        while qty > ZERO and qty * price + taker_fee(qty, price) > dollars:
            qty -= 1
        if qty < ONE:
            code = shrunk[-1] if shrunk else "size_below_one_contract"
            return _refuse(code, f"budget {dollars:.2f} buys no contract at {price}")
        if p_side is not None and qty * (p_side - price) - taker_fee(qty, price) <= ZERO:
            return _refuse("no_edge_after_fees", f"p={p_side} price={price} qty={qty}")
        return RiskVerdict(
            True,
            "shrunk" if shrunk else "approved",
            quantity=qty,
            side=side,
            price=price,
            shrunk_by=tuple(shrunk),
        )
