"""Jinja filters: money, prices, percentages and times as people read them.

A missing value renders as an em dash, never as 0 — "no mark" and "worth nothing" differ.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from jinja2 import Environment

from kalbot.web.timeutil import parse_stored_time

DASH = "—"


def money(value: Decimal | None, places: int = 2) -> str:
    """``Decimal('-3.2') -> '−$3.20'``; sub-cent amounts keep up to four places."""
    if value is None:
        return DASH
    q = Decimal(1).scaleb(-places)
    shown = value.quantize(q, rounding=ROUND_HALF_EVEN)
    if shown == 0 and value != 0:
        shown = value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)
    sign = "−" if shown < 0 else ""
    return f"{sign}${abs(shown):,}"


def cost(value: Decimal | None) -> str:
    """AI spend: cents are too coarse for a $0.0123 call, so up to six places, at least two."""
    if value is None:
        return DASH
    shown = value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    places = max(2, -shown.normalize().as_tuple().exponent)  # type: ignore[operator]
    return money(value, min(places, 6))


def signed_money(value: Decimal | None) -> str:
    if value is None:
        return DASH
    text = money(value)
    return f"+{text}" if value > 0 else text


def price(value: Decimal | None) -> str:
    """A contract price in dollars, e.g. '$0.65'."""
    if value is None:
        return DASH
    cents = value.quantize(Decimal("0.01"))
    return f"${cents if cents == value else value.normalize()}"


def pct(value: Decimal | None, places: int = 1) -> str:
    """A fraction as a percentage: 0.125 -> '12.5%'."""
    if value is None:
        return DASH
    return f"{(value * 100).quantize(Decimal(1).scaleb(-places))}%"


def prob(value: Decimal | None) -> str:
    return pct(value, 1)


def when(value: object) -> str:
    """A stored timestamp as 'YYYY-MM-DD HH:MM:SS UTC'."""
    if value is None or value == "":
        return DASH
    dt = value if isinstance(value, datetime) else parse_stored_time(value)
    if dt is None:
        return str(value)
    return dt.strftime("%Y-%m-%d %H:%M:%S UTC")


def age(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    s = int(seconds)
    if s < 120:
        return f"{s}s ago"
    if s < 7200:
        return f"{s // 60} min ago"
    if s < 172800:
        return f"{s // 3600} h ago"
    return f"{s // 86400} days ago"


def tone(value: Decimal | None) -> str:
    """A CSS class for a signed amount."""
    if value is None or value == 0:
        return ""
    return "up" if value > 0 else "down"


def install_filters(env: Environment) -> None:
    env.filters.update(
        money=money,
        signed_money=signed_money,
        cost=cost,
        price=price,
        pct=pct,
        prob=prob,
        when=when,
        age=age,
        tone=tone,
    )
