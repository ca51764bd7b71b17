"""The engine's records (values defined in ``kalbot.domain.trading``)."""

from kalbot.domain.trading import (
    ClosedPart,
    CoverageRow,
    CycleSummary,
    DayStats,
    DecisionRecord,
    FillRecord,
    MarketResultRow,
    OpenPosition,
    OrderRecord,
    OrderState,
    PerformanceRow,
    PositionChange,
    Purpose,
    RiskEvent,
    StoredState,
)

__all__ = [
    "ClosedPart",
    "CoverageRow",
    "CycleSummary",
    "DayStats",
    "DecisionRecord",
    "FillRecord",
    "MarketResultRow",
    "OpenPosition",
    "OrderRecord",
    "OrderState",
    "PerformanceRow",
    "PositionChange",
    "Purpose",
    "RiskEvent",
    "StoredState",
]
