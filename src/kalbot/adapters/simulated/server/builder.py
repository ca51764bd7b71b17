"""Assemble a ready-to-serve exchange: accounts from API keys, a clock, a scenario driver."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from kalbot.adapters.simulated.exchange import Exchange
from kalbot.adapters.simulated.server.auth import KeyRegistry, PublicKey
from kalbot.adapters.simulated.server.clock import AcceleratedClock, SteppedClock
from kalbot.adapters.simulated.server.faults import FaultConfig, FaultInjector
from kalbot.adapters.simulated.server.service import Driver, ServiceConfig, SimService
from kalbot.domain.snapshot import Snapshot

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
        if key.key_id.startswith("__"):
            # "__maker__", "__noise__", "__tape__": the scenario's own accounts.
            raise ValueError(f"API key id {key.key_id!r} is reserved (ids starting with '__')")
        if key.balance < 0:
            raise ValueError(f"balance for {key.key_id} must not be negative")
        registry.register(key.key_id, key.public_key, key.key_id)
        exchange.open_account(key.key_id, key.balance)
    service = SimService(exchange, config=config, faults=FaultInjector(faults), driver=driver)
    return service, registry


@dataclass(frozen=True, slots=True)
class SyntheticWorld:
    """A served synthetic scenario: the service, its keys and the clock it runs on."""

    service: SimService
    keys: KeyRegistry
    clock: AcceleratedClock
    tickers: tuple[str, ...]


def build_synthetic(
    keys: Sequence[ApiKey],
    *,
    markets: int = 20,
    days: int = 2,
    seed: int = 0,
    speed: float = 1.0,
    start: datetime | None = None,
    faults: FaultConfig | None = None,
    settlement_delay: timedelta = timedelta(minutes=5),
    tick_seconds: float = 0.05,
) -> SyntheticWorld:
    """A seeded synthetic scenario listed on a fresh exchange, kept trading by its driver.

    Simulated time starts when the scenario's first market opens and runs
    ``speed`` times faster than real time; markets close and settle on schedule.
    """
    from kalbot.adapters.simulated.scenarios.synthetic import DEFAULT_START, SyntheticScenario
    from kalbot.adapters.simulated.scenarios.synthetic_live import SyntheticDriver

    scenario = SyntheticScenario(
        markets=markets, days=days, seed=seed, start=start or DEFAULT_START
    )
    # Begin when the first market opens, so a client sees trading at once.
    opens = [m.spec.open_time for m in scenario.markets if m.spec.open_time is not None]
    clock = AcceleratedClock(min(opens, default=scenario.start), speed=speed)
    exchange = Exchange(clock)
    driver = SyntheticDriver(scenario, exchange, settle_delay=settlement_delay)
    driver.install()
    service, registry = build_service(
        exchange,
        keys,
        faults=faults,
        config=ServiceConfig(settlement_delay=settlement_delay, tick_seconds=tick_seconds),
        driver=lambda ex, now: driver.step(),
    )
    return SyntheticWorld(service, registry, clock, tuple(m.ticker for m in scenario.markets))


@dataclass(frozen=True, slots=True)
class LockstepWorld:
    """A synthetic scenario on a ``SteppedClock``: time moves only when the owner advances it.

    Serve it with ``ServerOptions(run_clock=False)`` and, after each ``clock.advance``, run
    ``service.tick()`` on the server's loop (``ServerThread.call``) before clients look again.
    """

    service: SimService
    keys: KeyRegistry
    clock: SteppedClock
    tickers: tuple[str, ...]
    end: datetime  # the last market's close: settlements follow ``settlement_delay`` later


def build_synthetic_lockstep(
    keys: Sequence[ApiKey],
    *,
    markets: int = 20,
    days: int = 2,
    seed: int = 0,
    start: datetime | None = None,
    settlement_delay: timedelta = timedelta(minutes=5),
    noise_per_hour: float = 10.0,
    requote_every: timedelta = timedelta(minutes=30),
) -> LockstepWorld:
    """``build_synthetic`` for lockstep runs: same scenario, a stepped clock, and a driver
    whose noise flow and maker refresh follow simulated time (see ``SyntheticDriver``).

    ``noise_per_hour=10`` matches the timer-driven flow at x3600 with 50 ms ticks.
    """
    from kalbot.adapters.simulated.scenarios.synthetic import DEFAULT_START, SyntheticScenario
    from kalbot.adapters.simulated.scenarios.synthetic_live import SyntheticDriver

    scenario = SyntheticScenario(
        markets=markets, days=days, seed=seed, start=start or DEFAULT_START
    )
    opens = [m.spec.open_time for m in scenario.markets if m.spec.open_time is not None]
    clock = SteppedClock(min(opens, default=scenario.start))
    exchange = Exchange(clock)
    driver = SyntheticDriver(
        scenario,
        exchange,
        settle_delay=settlement_delay,
        noise_per_hour=noise_per_hour,
        requote_every=requote_every,
    )
    driver.install()
    service, registry = build_service(
        exchange,
        keys,
        config=ServiceConfig(settlement_delay=settlement_delay),
        driver=lambda ex, now: driver.step(),
    )
    service.tick()  # the first quotes are up before anyone asks
    end = max(m.spec.close_time for m in scenario.markets)
    return LockstepWorld(service, registry, clock, tuple(m.ticker for m in scenario.markets), end)


@dataclass(frozen=True, slots=True)
class ReplayWorld:
    service: SimService
    keys: KeyRegistry
    clock: AcceleratedClock
    snapshots: int


class _ReplayPacer:
    """Applies recorded snapshots as the accelerated clock passes their timestamps."""

    def __init__(self, snapshots: Sequence[Snapshot], exchange: Exchange) -> None:
        from kalbot.adapters.simulated.scenarios.replay import ReplayDriver

        self._snaps = sorted(snapshots, key=lambda s: (s.timestamp, s.ticker))
        self._next = 0
        self.driver = ReplayDriver(exchange)

    def __call__(self, exchange: Exchange, now: datetime) -> None:
        snaps = self._snaps
        while self._next < len(snaps) and snaps[self._next].timestamp <= now:
            self.driver.apply(snaps[self._next])
            self._next += 1
        self.driver.settle_due()


def build_replay(
    keys: Sequence[ApiKey],
    snapshots: Sequence[Snapshot],
    *,
    speed: float = 1.0,
    faults: FaultConfig | None = None,
    settlement_delay: timedelta = timedelta(minutes=5),
    tick_seconds: float = 0.05,
) -> ReplayWorld:
    """Recorded ``market_snapshots`` rows served as quote-driven markets, paced by the clock.

    Simulated time starts at the first snapshot; each snapshot is applied once the clock
    passes its timestamp (quotes move, resting orders fill through the conservative fill
    model); markets settle at their recorded result after their close.
    """
    if not snapshots:
        raise ValueError("no snapshots to replay")
    clock = AcceleratedClock(min(s.timestamp for s in snapshots), speed=speed)
    exchange = Exchange(clock)
    pacer = _ReplayPacer(snapshots, exchange)
    service, registry = build_service(
        exchange,
        keys,
        faults=faults,
        config=ServiceConfig(settlement_delay=settlement_delay, tick_seconds=tick_seconds),
        driver=pacer,
    )
    pacer(exchange, clock.now())  # the first moment's markets are listed before anyone asks
    service.flush()
    return ReplayWorld(service, registry, clock, len(snapshots))
