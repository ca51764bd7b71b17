"""Risk: circuit breakers (ACTIVE / REDUCING / HALTED) and fractional-Kelly sizing with caps."""

from kalbot.risk.manager import BookState, RiskAssessment, RiskConfig, RiskManager, RiskVerdict

__all__ = ["BookState", "RiskAssessment", "RiskConfig", "RiskManager", "RiskVerdict"]
