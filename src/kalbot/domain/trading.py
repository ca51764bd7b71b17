"""The trading engine's and recorder's records: what they store and read back after a restart.

Values only (stdlib); the engine, the recorder and the store adapter all speak them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from kalbot.domain.decisions import Decision, RiskState
from kalbot.domain.orders import Action, TimeInForce
from kalbot.domain.prices import ZERO, Side
from kalbot.domain.values import value


class Purpose(StrEnum):
    OPEN = "open"
    CLOSE = "close"


class OrderState(StrEnum):
    PENDING = "pending"  # written before the request goes out
    RESTING = "resting"
    EXECUTED = "executed"
    CANCELED = "canceled"
    REJECTED = "rejected"
    ERROR = "error"  # the request failed; fills, if any, still arrive through fills()

    @property
    def in_flight(self) -> bool:
        return self in (OrderState.PENDING, OrderState.RESTING)


@dataclass(slots=True)
class OrderRecord:
    client_order_id: str
    ticker: str
    side: Side
    action: Action
    purpose: Purpose
    count: Decimal
    limit_price: Decimal  # the side's own price space
    time_in_force: TimeInForce
    created_at: datetime
    cycle_id: int
    reason: str
    position_id: int | None = None
    status: OrderState = OrderState.PENDING
    exchange_order_id: str | None = None
    filled_count: Decimal = ZERO
    error: str | None = None


@dataclass(slots=True)
class OpenPosition:
    """An open position as the engine tracks it; ``cost`` and ``entry_fees`` are exact."""

    id: int
    ticker: str
    side: Side
    quantity: Decimal
    cost: Decimal  # sum of count * price over the entry fills
    entry_fees: Decimal
    entry_time: datetime
    reason: str
    event_ticker: str = ""
    category: str = ""
    strategy: str = ""

    @property
    def entry_price(self) -> Decimal:
        return self.cost / self.quantity if self.quantity else ZERO


@dataclass(frozen=True, slots=True)
class ClosedPart:
    """A closed positions row: the whole position or the part an exit fill closed."""

    quantity: Decimal
    entry_price: Decimal
    exit_price: Decimal
    exit_time: datetime
    pnl: Decimal
    close_reason: str


@dataclass(frozen=True, slots=True)
class PositionChange:
    """What one fill (or a settlement) does to the positions table, applied atomically with it.

    kind: ``open`` (insert ``position``), ``increase`` (update quantity/entry of ``position``),
    ``close`` (close ``position`` with ``closed``), ``partial_close`` (``position`` keeps the
    remaining quantity; ``closed`` becomes a new closed row), ``none`` (fill not ours).
    """

    kind: str
    position: OpenPosition | None = None
    closed: ClosedPart | None = None


@dataclass(frozen=True, slots=True)
class FillRecord:
    fill_id: str
    exchange_order_id: str
    client_order_id: str
    ticker: str
    side: Side
    action: Action
    count: Decimal
    price: Decimal
    fee: Decimal
    is_taker: bool
    ts: datetime


@value
class DecisionRecord:
    """One line of 'why': a decision, refusal or action for one market, with its reason code."""

    cycle_id: int
    ts: datetime
    ticker: str
    stage: str  # screen | analysis | strategy | risk | execution | exit | settlement | fill
    outcome: (
        str  # rejected | skipped | refused | shrunk | approved | ordered | filled | closed | error
    )
    reason_code: str
    detail: str = ""
    decision: Decision | None = None
    strategy: str = ""
    confidence: Decimal | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class RiskEvent:
    ts: datetime
    state: RiskState
    reason_code: str
    detail: str
    equity: Decimal
    peak_equity: Decimal
    day_start_equity: Decimal


@dataclass(slots=True)
class CycleSummary:
    cycle_id: int
    started_at: datetime
    mode: str
    strategy: str
    finished_at: datetime | None = None
    markets_seen: int = 0
    screened_out: dict[str, int] = field(default_factory=dict)
    analysed: int = 0
    ai_spend_today: Decimal = ZERO
    ai_budget: Decimal = ZERO
    orders: int = 0
    fills: int = 0
    open_positions: int = 0
    pnl_today: Decimal = ZERO
    equity: Decimal = ZERO
    cash: Decimal = ZERO
    risk_state: RiskState = RiskState.ACTIVE
    errors: int = 0

    def line(self) -> str:
        """The one-line summary printed each cycle."""
        out = sum(self.screened_out.values())
        top = ", ".join(
            f"{k}={v}" for k, v in sorted(self.screened_out.items(), key=lambda kv: -kv[1])[:4]
        )
        return (
            f"cycle {self.cycle_id}: seen {self.markets_seen}, screened out {out}"
            f"{f' ({top})' if top else ''}, analysed {self.analysed}, "
            f"AI ${self.ai_spend_today:.2f}/${self.ai_budget:.2f}, orders {self.orders}, "
            f"fills {self.fills}, open {self.open_positions}, P&L today ${self.pnl_today:.2f}, "
            f"equity ${self.equity:.2f}, risk {self.risk_state.value}"
            f"{f', errors {self.errors}' if self.errors else ''}"
        )


@dataclass(frozen=True, slots=True)
class PerformanceRow:
    day: date
    total_pnl: Decimal
    num_trades: int
    win_rate: Decimal | None
    portfolio_value: Decimal
    daily_return: Decimal | None
    max_drawdown: Decimal | None


@dataclass(frozen=True, slots=True)
class DayStats:
    realized_pnl: Decimal = ZERO
    closed_trades: int = 0
    wins: int = 0


@dataclass(slots=True)
class StoredState:
    """What the engine reloads on start: enough to continue without doubling anything."""

    last_cycle_id: int = 0
    open_positions: list[OpenPosition] = field(default_factory=list)
    in_flight_orders: list[OrderRecord] = field(default_factory=list)
    last_fill_ts: datetime | None = None
    risk_state: RiskState = RiskState.ACTIVE
    peak_equity: Decimal | None = None
    day_start_equity: Decimal | None = None
    last_close: dict[str, datetime] = field(default_factory=dict)
    stopouts: list[datetime] = field(default_factory=list)
    max_drawdown: Decimal = ZERO


@dataclass(slots=True)
class CoverageRow:
    """Which market was recorded from when to when, and how patchily."""

    ticker: str
    first_ts: datetime
    last_ts: datetime
    num_snapshots: int
    num_gaps: int  # intervals longer than twice the recording interval
    max_gap_seconds: float


@dataclass(frozen=True, slots=True)
class MarketResultRow:
    ticker: str
    event_ticker: str
    category: str
    result: str  # yes | no | void | scalar
    determined_at: datetime
