"""Fill models: how an order fills when a market is replayed from recorded quotes only.

Snapshots hold the best bid and ask (sometimes their sizes), no depth and no queue, so a
backtest must *assume* how much would have filled and at what price. The assumptions are
written down in ``docs/fill-models.md``; pick one by name with ``get_fill_model``.

All prices here are in the order's own leg (a NO buyer's limit and fill are NO prices).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from kalbot.domain.market import Quote
from kalbot.domain.prices import Side


@dataclass(frozen=True, slots=True)
class ModelFill:
    count: Decimal
    price: Decimal  # own-leg price per contract


class FillModel(Protocol):
    """Decides fills against a recorded quote for a buyer of ``side`` at ``limit``."""

    @property
    def name(self) -> str: ...

    def taker(self, side: Side, limit: Decimal, count: Decimal, quote: Quote) -> ModelFill | None:
        """An incoming order: what fills at once (None: nothing)."""
        ...

    def resting(
        self,
        side: Side,
        limit: Decimal,
        remaining: Decimal,
        quote: Quote,
        last_yes_price: Decimal | None,
    ) -> ModelFill | None:
        """A resting order after the recorded market moved to ``quote``.

        ``last_yes_price`` is a *new* trade print since the previous update, or None.
        """
        ...


def _cap(count: Decimal, limit: Decimal | None) -> Decimal:
    return count if limit is None else min(count, limit)


@dataclass(frozen=True, slots=True)
class ConservativeFill:
    """The default: never better than the record, and never more than it showed.

    - A taker buys at the recorded ask of its leg, only if that ask is within its limit, and
      at most ``max_size`` contracts and at most the recorded ask size when one was recorded.
    - A resting bid fills only once the recorded market *trades through* it: the leg's ask
      drops strictly below the limit, or a new trade print (in that leg's price) is strictly
      below it. It fills at its own limit (no price improvement), at most ``max_size`` per
      update.
    """

    max_size: Decimal | None = Decimal(100)
    use_quote_size: bool = True
    name: str = "conservative"

    def taker(self, side: Side, limit: Decimal, count: Decimal, quote: Quote) -> ModelFill | None:
        ask = quote.ask(side)
        if ask is None or ask > limit:
            return None
        size = _cap(count, self.max_size)
        shown = quote.ask_size(side)
        if self.use_quote_size and shown > 0:
            size = min(size, shown)
        return ModelFill(size, ask) if size > 0 else None

    def resting(
        self,
        side: Side,
        limit: Decimal,
        remaining: Decimal,
        quote: Quote,
        last_yes_price: Decimal | None,
    ) -> ModelFill | None:
        ask = quote.ask(side)
        last = None
        if last_yes_price is not None:
            last = last_yes_price if side is Side.YES else 1 - last_yes_price
        through = (ask is not None and ask < limit) or (last is not None and last < limit)
        if not through:
            return None
        size = _cap(remaining, self.max_size)
        return ModelFill(size, limit) if size > 0 else None


@dataclass(frozen=True, slots=True)
class TouchFill:
    """Optimistic: a resting bid fills in full as soon as the recorded ask *touches* it.

    Takers fill their whole count at the recorded ask (quote sizes ignored). Useful as an
    upper bound next to the conservative model: a strategy that only works here does not work.
    """

    name: str = "touch"

    def taker(self, side: Side, limit: Decimal, count: Decimal, quote: Quote) -> ModelFill | None:
        ask = quote.ask(side)
        if ask is None or ask > limit:
            return None
        return ModelFill(count, ask)

    def resting(
        self,
        side: Side,
        limit: Decimal,
        remaining: Decimal,
        quote: Quote,
        last_yes_price: Decimal | None,
    ) -> ModelFill | None:
        ask = quote.ask(side)
        if ask is None or ask > limit:
            return None
        return ModelFill(remaining, limit)


FILL_MODELS = ("conservative", "touch")


def get_fill_model(name: str, *, max_size: Decimal | None = Decimal(100)) -> FillModel:
    """The fill model called ``name``; ``max_size`` caps the conservative model's fills."""
    if name == "conservative":
        return ConservativeFill(max_size=max_size)
    if name == "touch":
        return TouchFill()
    raise ValueError(f"unknown fill model {name!r}; choose one of {', '.join(FILL_MODELS)}")
