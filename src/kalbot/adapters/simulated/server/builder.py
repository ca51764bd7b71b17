"""Assemble a ready-to-serve exchange: accounts from API keys, a clock, a scenario driver."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.server.auth import KeyRegistry, PublicKey
from kalbot.adapters.simulated.server.faults import FaultConfig, FaultInjector
from kalbot.adapters.simulated.server.service import Driver, ServiceConfig, SimService

DEFAULT_BALANCE = Decimal("10000")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One registered key: it trades for its own account, funded with ``balance`` dollars."""

    key_id: str
    public_key: PublicKey
    balance: Decimal = DEFAULT_BALANCE


def build_service(
    exchange: Exchange,
    keys: Sequence[ApiKey],
    *,
    faults: FaultConfig | None = None,
    config: ServiceConfig | None = None,
    driver: Driver | None = None,
) -> tuple[SimService, KeyRegistry]:
    """Open one account per key (account id = key id) and wrap the exchange in a service."""
    registry = KeyRegistry()
    for key in keys:
        if key.balance < 0:
            raise ValueError(f"balance for {key.key_id} must not be negative")
        registry.register(key.key_id, key.public_key, key.key_id)
        exchange.open_account(key.key_id, key.balance)
    service = SimService(exchange, config=config, faults=FaultInjector(faults), driver=driver)
    return service, registry
