"""Accounts: cash, reservations for resting orders, and netted positions per market.

Every fill is booked as "buy ``count`` of one leg at that leg's own price": buying YES pays the
YES price, buying NO pays the NO price. A netting account never holds both legs: a bought
contract first closes an opposite one (a YES+NO pair is worth exactly $1.00, paid back at
once), so buying NO while long YES is selling YES at ``1 - no_price``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from kalbot.adapters.simulated.records import PositionView
from kalbot.adapters.simulated.units import ONE_TICKS, money_to_dollars, units_to_count


@dataclass(slots=True)
class PositionState:
    """One market's netted position in integer units (exchange-internal)."""

    position: int = 0  # hundredths of contracts: > 0 YES, < 0 NO
    cost: int = 0  # micro-dollars paid for the contracts held now
    realized: int = 0  # micro-dollars, before fees
    fees: int = 0
    traded: int = 0  # micro-dollars of premium bought
    last_updated: datetime | None = None

    def view(self, ticker: str) -> PositionView:
        return PositionView(
            ticker=ticker,
            position=units_to_count(self.position),
            market_exposure=money_to_dollars(self.cost),
            realized_pnl=money_to_dollars(self.realized - self.fees),
            fees_paid=money_to_dollars(self.fees),
            total_traded=money_to_dollars(self.traded),
            last_updated=self.last_updated,
        )


@dataclass(slots=True)
class Account:
    """Cash (total, in micro-dollars) and what of it resting orders hold back."""

    account_id: str
    cash: int
    reserved: int = 0
    positions: dict[str, PositionState] = field(default_factory=dict)
    fees_paid: int = 0
    unlimited: bool = False  # the "tape" counterparty of quote-driven markets

    @property
    def available(self) -> int:
        return self.cash - self.reserved

    def position(self, ticker: str) -> PositionState:
        state = self.positions.get(ticker)
        if state is None:
            state = self.positions[ticker] = PositionState()
        return state

    def signed_position(self, ticker: str) -> int:
        state = self.positions.get(ticker)
        return state.position if state else 0

    def closable(self, ticker: str, buys_yes: bool) -> int:
        """How many hundredths a buy of this leg would close rather than open."""
        state = self.positions.get(ticker)  # inlined signed_position: runs on every order
        if state is None:
            return 0
        pos = state.position
        return -pos if buys_yes and pos < 0 else pos if not buys_yes and pos > 0 else 0

    def apply_fill(
        self, ticker: str, buys_yes: bool, own_ticks: int, units: int, fee: int, ts: datetime
    ) -> int:
        """Book one fill; returns the signed position after it.

        The caller has checked the account can afford ``fill_cash_need``.
        """
        state = self.positions.get(ticker)  # inlined position(): runs twice per fill
        if state is None:
            state = self.positions[ticker] = PositionState()
        return self.book(state, buys_yes, own_ticks, units, fee, ts)

    def book(
        self,
        state: PositionState,
        buys_yes: bool,
        own_ticks: int,
        units: int,
        fee: int,
        ts: datetime,
    ) -> int:
        """``apply_fill`` on the position state the caller already holds (the matching loop
        has looked it up to price the fill); returns the signed position after it. Buying one
        leg closes the other leg held first (netting), at its average cost."""
        pos = state.position
        held_opposite = -pos if buys_yes else pos
        close = min(units, held_opposite) if held_opposite > 0 else 0
        if close:
            closed_cost = (
                state.cost if close == held_opposite else state.cost * close // held_opposite
            )
            state.cost -= closed_cost
            state.realized += close * ONE_TICKS - closed_cost - own_ticks * close
            self.cash += close * ONE_TICKS
        opened = units - close
        state.cost += own_ticks * opened
        state.position = pos + units if buys_yes else pos - units
        paid = own_ticks * units
        self.cash -= paid + fee
        state.fees += fee
        state.traded += paid
        state.last_updated = ts
        self.fees_paid += fee
        return state.position


def fill_cash_need(own_ticks: int, units: int, fee: int, closable: int) -> int:
    """Net cash a fill takes: the premium and fee, minus $1 per contract it closes."""
    return own_ticks * units + fee - min(units, closable) * ONE_TICKS
