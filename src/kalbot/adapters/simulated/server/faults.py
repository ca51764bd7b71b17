"""Fault injection, configured per run, so recovery code is tested against real failures.

Every decision comes from one seeded ``random.Random``: the same seed and the same request
sequence give the same faults.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Which faults to inject, and how often (rates are probabilities in [0, 1]).

    - ``latency_ms``: added to every REST answer (uniform in [latency_ms/2, latency_ms]).
    - ``error_rate``: share of REST requests answered 500/503 *before* anything is done.
    - ``drop_after_accept_rate``: share of order creates that are executed and then have their
      connection dropped before the answer is complete (the client must retry with the same
      ``client_order_id`` and get 409).
    - ``malformed_rate``: share of 200 answers whose body is cut short (invalid JSON).
    - ``ws_disconnect_rate``: share of WebSocket data messages after which the socket is closed.
    - ``ws_gap_rate``: share of seq-carrying WebSocket messages that are silently skipped,
      leaving a hole in ``seq``.
    """

    latency_ms: int = 0
    error_rate: float = 0.0
    drop_after_accept_rate: float = 0.0
    malformed_rate: float = 0.0
    ws_disconnect_rate: float = 0.0
    ws_gap_rate: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        for name in (
            "error_rate",
            "drop_after_accept_rate",
            "malformed_rate",
            "ws_disconnect_rate",
            "ws_gap_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")

    @property
    def any(self) -> bool:
        return bool(
            self.latency_ms
            or self.error_rate
            or self.drop_after_accept_rate
            or self.malformed_rate
            or self.ws_disconnect_rate
            or self.ws_gap_rate
        )


class FaultInjector:
    """Rolls the dice for each fault; counts what it injected so tests can assert on it."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.config = config or FaultConfig()
        self._rng = random.Random(self.config.seed)
        self.injected: dict[str, int] = {
            "latency": 0,
            "error": 0,
            "drop_after_accept": 0,
            "malformed": 0,
            "ws_disconnect": 0,
            "ws_gap": 0,
        }

    def _roll(self, rate: float, name: str) -> bool:
        if rate <= 0.0:
            return False
        hit = rate >= 1.0 or self._rng.random() < rate
        if hit:
            self.injected[name] += 1
        return hit

    def latency_seconds(self) -> float:
        ms = self.config.latency_ms
        if ms <= 0:
            return 0.0
        self.injected["latency"] += 1
        return self._rng.uniform(ms / 2, ms) / 1000.0

    def error_status(self) -> int | None:
        """500 or 503 when this request should fail before it is processed, else None."""
        if self._roll(self.config.error_rate, "error"):
            return self._rng.choice((500, 503))
        return None

    def drop_after_accept(self) -> bool:
        return self._roll(self.config.drop_after_accept_rate, "drop_after_accept")

    def malformed(self) -> bool:
        return self._roll(self.config.malformed_rate, "malformed")

    def ws_disconnect(self) -> bool:
        return self._roll(self.config.ws_disconnect_rate, "ws_disconnect")

    def ws_gap(self) -> bool:
        return self._roll(self.config.ws_gap_rate, "ws_gap")
