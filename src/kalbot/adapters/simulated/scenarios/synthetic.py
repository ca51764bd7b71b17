"""A seeded generator of realistic Kalshi-like markets and their history.

Several categories and series; events of mutually exclusive brackets (exactly one wins) or
single binary markets; each market's fair YES probability wanders in log-odds along a Brownian
bridge that ends at its result as close approaches, and brackets of one event are normalised
so their probabilities sum to one. Quotes come from a simulated market maker (spread and depth
by liquidity tier), trades from noise traders (volume, last price, open interest).

Determinism: everything derives from ``random.Random`` instances seeded with strings built from
the seed (never global state, never ``hash()``), so the same seed gives the same markets and
the same snapshots, bit for bit.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kalbot.adapters.simulated.markets import MarketSpec
from kalbot.domain.clock import iso_utc
from kalbot.domain.fees import FeeType
from kalbot.domain.market import MarketResult
from kalbot.domain.snapshot import Snapshot

DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)
_EDGE = 4.6  # |log-odds| a market converges to at close: p ~ 0.99 / 0.01


@dataclass(frozen=True, slots=True)
class Series:
    ticker: str
    category: str
    title: str  # "{}" gets the event's date
    unit: str
    base: float  # the centre of the bracket strikes
    step: float  # bracket width
    brackets: tuple[int, int]  # min, max markets per event (1 = a single binary market)
    fee_type: FeeType = FeeType.QUADRATIC
    fee_multiplier: Decimal = Decimal(1)


SERIES: tuple[Series, ...] = (
    Series(
        "KXHIGHNY", "Climate and Weather", "Highest temperature in NYC on {}?", "°", 72, 2, (4, 6)
    ),
    Series("KXCPIYOY", "Economics", "CPI year-over-year in {}?", "%", 2.9, 0.1, (4, 6)),
    Series(
        "KXINX", "Financials", "S&P 500 close on {}?", "", 6800, 25, (3, 5),
        fee_multiplier=Decimal("0.5"),
    ),
    Series(
        "KXNASDAQ100", "Financials", "Nasdaq-100 close on {}?", "", 24000, 100, (3, 5),
        fee_type=FeeType.QUADRATIC_WITH_MAKER_FEES,
    ),
    Series("KXBTCD", "Crypto", "Bitcoin price on {}?", "$", 98000, 1000, (3, 6)),
    Series("KXAPPROVE", "Politics", "Approval rating above 45% on {}?", "%", 45, 1, (1, 1)),
    Series("KXNBAGAME", "Sports", "Who wins the game on {}?", "", 0, 1, (2, 2)),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SynthMarket:
    """One generated market: its listing, its result, and its fair-value path.

    ``fair[i]`` is the fair YES price in ticks of $0.0001 at ``spec.open_time + i * step``.
    """

    spec: MarketSpec
    result: MarketResult
    liquidity: int  # 1 (thin) .. 3 (deep)
    fair: tuple[int, ...]
    step: timedelta

    @property
    def ticker(self) -> str:
        return self.spec.ticker

    def fair_at(self, when: datetime) -> int | None:
        """The fair YES price in ticks at ``when``, or None outside the market's life."""
        start = self.spec.open_time
        if start is None or when < start or when >= self.spec.close_time:
            return None
        i = int((when - start) / self.step)
        return self.fair[min(i, len(self.fair) - 1)]


class SyntheticScenario:
    """``markets`` markets opening and closing within ``days`` days from ``start``.

    All markets close inside the window, so every one has a result. ``void_rate`` is the
    chance that an event is voided (every bracket's result ``VOID``: holders are refunded at
    cost); it is drawn from its own seeded stream, so the markets and their prices are the
    same whatever the rate, and ``0`` (the default) gives exactly the history it always did.
    """

    def __init__(
        self,
        *,
        markets: int = 50,
        days: int = 7,
        seed: int = 0,
        start: datetime = DEFAULT_START,
        step: timedelta = timedelta(hours=1),
        void_rate: float = 0.0,
    ) -> None:
        if not 0.0 <= void_rate <= 1.0:
            raise ValueError("void_rate must lie in [0, 1]")
        if markets < 1:
            raise ValueError("markets must be at least 1")
        if days < 1:
            raise ValueError("days must be at least 1")
        if step <= timedelta(0) or step > timedelta(days=1):
            raise ValueError("step must be positive and at most a day")
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.seed = seed
        self.start = start
        self.end = start + timedelta(days=days)
        self.step = step
        self.void_rate = void_rate
        self.markets: list[SynthMarket] = self._void(self._generate(markets))

    # -- generation ----------------------------------------------------------------------------
    def _generate(self, count: int) -> list[SynthMarket]:
        rng = random.Random(f"kalbot-synth:{self.seed}")
        out: list[SynthMarket] = []
        used: set[str] = set()
        steps_total = int((self.end - self.start) / self.step)
        while len(out) < count:
            series = rng.choice(SERIES)
            lo, hi = series.brackets
            size = min(rng.randint(lo, hi), count - len(out))
            open_i = rng.randrange(0, max(1, steps_total // 3))
            min_life = max(2, int(timedelta(hours=12) / self.step))
            close_i = rng.randint(min(open_i + min_life, steps_total), steps_total)
            close_i = max(close_i, open_i + 2) if open_i + 2 <= steps_total else steps_total
            open_time = self.start + open_i * self.step
            close_time = self.start + close_i * self.step
            event = f"{series.ticker}-{close_time:%y%b%d%H}".upper()
            while event in used:
                event += "X"
            used.add(event)
            out.extend(
                self._event(rng, series, event, size, open_time, close_time, close_i - open_i)
            )
        return out

    def _void(self, markets: list[SynthMarket]) -> list[SynthMarket]:
        if self.void_rate <= 0:
            return markets
        rng = random.Random(f"kalbot-synth-void:{self.seed}")
        voided: dict[str, bool] = {}
        out = []
        for m in markets:
            event = m.spec.event_ticker
            if event not in voided:
                voided[event] = rng.random() < self.void_rate
            if voided[event]:
                spec = replace(m.spec, expected_result=MarketResult.VOID)
                m = replace(m, spec=spec, result=MarketResult.VOID)
            out.append(m)
        return out

    def _event(
        self,
        rng: random.Random,
        series: Series,
        event: str,
        size: int,
        open_time: datetime,
        close_time: datetime,
        n_steps: int,
    ) -> list[SynthMarket]:
        # initial probabilities: Dirichlet(2) over the brackets; a lone market gets U(0.15, 0.85)
        if size == 1:
            p0 = [rng.uniform(0.15, 0.85)]
            winner = 0 if rng.random() < p0[0] else -1
        else:
            gammas = [rng.gammavariate(2.0, 1.0) for _ in range(size)]
            total = sum(gammas)
            p0 = [g / total for g in gammas]
            winner = _draw(rng, p0)
        days = max(n_steps * self.step.total_seconds() / 86400, 1e-9)
        sigma = rng.uniform(0.4, 1.0) / math.sqrt(max(n_steps, 1) / days)  # per step
        curves: list[list[float]] = []
        for i, p in enumerate(p0):
            x0 = _logit(min(max(p, 0.02), 0.98))
            target = _EDGE if i == winner else -_EDGE
            walk = [0.0]
            for _ in range(n_steps):
                walk.append(walk[-1] + rng.gauss(0.0, sigma))
            end = walk[-1]
            curve = []
            for j in range(n_steps + 1):
                frac = j / n_steps
                bridge = walk[j] - frac * end
                curve.append(_sigmoid(x0 + (target - x0) * frac**2 + bridge))
            curves.append(curve)
        if size > 1:  # mutually exclusive: the brackets' probabilities sum to one
            for j in range(n_steps + 1):
                total = sum(c[j] for c in curves)
                for c in curves:
                    c[j] /= total
        date = f"{close_time:%b} {close_time.day}, {close_time:%Y}"
        markets = []
        for i in range(size):
            ticker, subtitle, floor, cap, strike_type = _strike(series, event, size, i)
            spec = MarketSpec(
                ticker=ticker,
                event_ticker=event,
                close_time=close_time,
                open_time=open_time,
                series_ticker=series.ticker,
                title=series.title.format(date),
                subtitle=subtitle,
                yes_subtitle=subtitle,
                no_subtitle=f"Not {subtitle}" if subtitle else "",
                category=series.category,
                fee_type=series.fee_type,
                fee_multiplier=series.fee_multiplier,
                strike_type=strike_type,
                floor_strike=floor,
                cap_strike=cap,
                rules_primary=f"Resolves YES if {subtitle or 'the event happens'} on {date}.",
                expected_result=MarketResult.YES if i == winner else MarketResult.NO,
            )
            fair = tuple(min(max(round(p * 10_000), 100), 9_900) for p in curves[i][:n_steps])
            markets.append(
                SynthMarket(
                    spec=spec,
                    result=MarketResult.YES if i == winner else MarketResult.NO,
                    liquidity=rng.randint(1, 3),
                    fair=fair or (5_000,),
                    step=self.step,
                )
            )
        return markets

    # -- history -------------------------------------------------------------------------------
    def results(self) -> dict[str, MarketResult]:
        return {m.ticker: m.result for m in self.markets}

    def snapshots(self) -> Iterator[Snapshot]:
        """Every market's quote at every step of its life, ordered by (time, ticker).

        ``metadata`` carries ``result`` (``"yes"``/``"no"``/``"void"``: the eventual result,
        known because the history is complete), event and series tickers, quote sizes,
        status and open time.
        """
        tapes = {m.ticker: _Tape(m, self.seed) for m in self.markets}
        by_time = sorted(self.markets, key=lambda m: (m.spec.open_time or self.start, m.ticker))
        live: list[SynthMarket] = []
        k = 0
        when = self.start
        while when < self.end:
            while k < len(by_time) and (by_time[k].spec.open_time or self.start) <= when:
                live.append(by_time[k])
                k += 1
            live = [m for m in live if when < m.spec.close_time]
            for m in sorted(live, key=lambda m: m.ticker):
                yield tapes[m.ticker].snapshot(when)
            when += self.step


class _Tape:
    """A market's recorded trading: market-maker quotes and noise-trader volume."""

    def __init__(self, market: SynthMarket, seed: int) -> None:
        self.m = market
        self.rng = random.Random(f"kalbot-synth:{seed}:{market.ticker}")
        self.volume_window: deque[tuple[datetime, int]] = deque()
        self.volume = 0
        self.open_interest = 0
        self.last: int | None = None

    def snapshot(self, when: datetime) -> Snapshot:
        m, rng = self.m, self.rng
        fair = m.fair_at(when)
        assert fair is not None
        bid, ask = quote_cents(fair, m.liquidity, rng)
        traded = rng.randint(0, 40 * m.liquidity) if rng.random() < 0.6 else 0
        if traded:
            self.last = ask if rng.random() < 0.5 else bid
            self.volume += traded
            opened = int(traded * rng.uniform(0.2, 0.6))
            self.open_interest = max(0, self.open_interest + opened - int(traded * 0.15))
        self.volume_window.append((when, traded))
        while self.volume_window[0][0] <= when - timedelta(days=1):
            self.volume_window.popleft()
        spec = m.spec
        return Snapshot(
            timestamp=when,
            ticker=spec.ticker,
            title=spec.title,
            last_price=None if self.last is None else self.last / 100,
            yes_bid=bid / 100,
            yes_ask=ask / 100,
            no_bid=(100 - ask) / 100,
            no_ask=(100 - bid) / 100,
            volume_24h=sum(v for _, v in self.volume_window),
            open_interest=self.open_interest,
            close_time=iso_utc(spec.close_time),
            category=spec.category,
            metadata={
                "result": m.result.value,
                "event_ticker": spec.event_ticker,
                "series_ticker": spec.series_ticker,
                "yes_bid_size": rng.randint(5, 150) * m.liquidity,
                "yes_ask_size": rng.randint(5, 150) * m.liquidity,
                "volume": self.volume,
                "status": "active",
                "open_time": iso_utc(spec.open_time or when),
                "subtitle": spec.subtitle,
                "source": "synthetic",
            },
        )


def quote_cents(fair_ticks: int, liquidity: int, rng: random.Random) -> tuple[int, int]:
    """A market maker's best bid and ask in cents around a fair price (1..99, bid < ask)."""
    spread = rng.choice((1, 2, 2, 3, 4, 6)) + (3 - liquidity)
    mid = fair_ticks / 100
    bid = math.floor(mid - spread / 2)
    ask = math.ceil(mid + spread / 2)
    bid = min(max(bid, 1), 98)
    ask = min(max(ask, bid + 1), 99)
    return bid, ask


def _strike(
    series: Series, event: str, size: int, i: int
) -> tuple[str, str, Decimal | None, Decimal | None, str]:
    if series.ticker == "KXNBAGAME":
        teams = ("HOME", "AWAY")
        return f"{event}-{teams[i]}", f"{teams[i].title()} team wins", None, None, "custom"
    if size == 1:
        strike = _num(series.base)
        return f"{event}-T{strike}", f"Above {strike}{series.unit}", strike, None, "greater"
    lo = series.base + (i - size / 2) * series.step
    floor = _num(lo)
    cap = _num(lo + series.step)
    return (
        f"{event}-B{floor}",
        f"{floor}{series.unit} to {cap}{series.unit}",
        floor,
        cap,
        "between",
    )


def _num(x: float) -> Decimal:
    """A strike as a short exact decimal: 66.0 -> 66, 2.9000000001 -> 2.9."""
    d = Decimal(str(round(x, 4))).normalize()
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d


def _draw(rng: random.Random, probs: list[float]) -> int:
    r = rng.random()
    acc = 0.0
    for i, p in enumerate(probs):
        acc += p
        if r < acc:
            return i
    return len(probs) - 1


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))
