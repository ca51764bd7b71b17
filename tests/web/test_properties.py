"""Properties over large input spaces: marks on both sides, charts, money formatting."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from kalbot.domain.market import Quote
from kalbot.web.charts import Axis, Marker, Series, bar_chart, line_chart, nice_ticks
from kalbot.web.formatting import cost, money, pct, price
from kalbot.web.queries import Mark, position_row

cents = st.integers(min_value=1, max_value=99).map(lambda c: Decimal(c) / 100)
quantities = st.integers(min_value=1, max_value=10_000)


def _row(side: str, quantity: int, entry: Decimal) -> SimpleNamespace:
    return SimpleNamespace(
        id=1,
        ticker="KX-TEST",
        side=side,
        quantity=quantity,
        entry_price=float(entry),
        entry_time="2026-11-25T12:00:00Z",
        exit_price=None,
        exit_time=None,
        pnl=None,
        status="open",
        reason=None,
        close_reason=None,
    )


@settings(max_examples=60, deadline=None)
@given(quantity=quantities, entry=cents, bid=cents, spread=st.integers(0, 10))
def test_yes_and_no_positions_are_marked_in_their_own_price(
    quantity: int, entry: Decimal, bid: Decimal, spread: int
) -> None:
    ask = min(bid + Decimal(spread) / 100, Decimal("0.99"))
    mark = Mark(time="t", quote=Quote(yes_bid=bid, yes_ask=ask), no_bid=Decimal(1) - ask)
    yes = position_row(_row("yes", quantity, entry), {"KX-TEST": mark})
    no = position_row(_row("no", quantity, entry), {"KX-TEST": mark})
    # A YES sells at the YES bid; a NO sells at the NO bid, which is 1 - the YES ask.
    assert yes.mark == bid and no.mark == Decimal(1) - ask
    assert yes.unrealised_pnl == quantity * (bid - entry)
    assert no.unrealised_pnl == quantity * ((Decimal(1) - ask) - entry)
    # Holding both sides is worth 1 - spread per pair whatever the price.
    assert yes.mark + no.mark == Decimal(1) - (ask - bid)
    assert yes.cost_basis == no.cost_basis == quantity * entry


@settings(max_examples=40, deadline=None)
@given(quantity=quantities, entry=cents)
def test_no_quote_means_no_mark_never_a_default(quantity: int, entry: Decimal) -> None:
    for side in ("yes", "no"):
        row = position_row(_row(side, quantity, entry), {})
        assert row.mark is None and row.unrealised_pnl is None and row.market_value is None
    empty = Mark(time="t", quote=Quote(yes_bid=None, yes_ask=None), no_bid=None)
    assert position_row(_row("no", quantity, entry), {"KX-TEST": empty}).mark is None


values = st.decimals(min_value=-(10**7), max_value=10**7, places=4, allow_nan=False)
points = st.lists(
    st.tuples(st.floats(0, 1e9, allow_nan=False), st.one_of(st.none(), values)), max_size=40
)


@settings(max_examples=50, deadline=None)
@given(series=st.lists(points, min_size=1, max_size=3), marks=st.lists(values, max_size=4))
def test_line_charts_are_always_well_formed_svg(
    series: list[list[tuple[float, Decimal | None]]], marks: list[Decimal]
) -> None:
    markers = [Marker(float(i), m, f"<trade {i}>", "#000", i % 2 == 0) for i, m in enumerate(marks)]
    svg = line_chart(
        "t & <title>",
        [Series(f"s{i}", pts, "#123456") for i, pts in enumerate(series)],
        Axis(),
        markers,
        area=True,
    )
    root = ET.fromstring(str(svg))
    assert root.tag.endswith("svg")
    drawn = [p for p in series if any(y is not None for _, y in p)]
    if drawn or marks:
        assert root.findall(".//{*}polyline") or root.findall(".//{*}polygon")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=12), values), max_size=30))
def test_bar_charts_are_well_formed_and_count_every_bar(bars: list[tuple[str, Decimal]]) -> None:
    root = ET.fromstring(str(bar_chart("daily", bars)))
    assert len(root.findall(".//{*}rect[@class='bar']")) == len(bars)


@settings(max_examples=60, deadline=None)
@given(lo=st.floats(-1e7, 1e7), span=st.floats(1e-6, 1e7))
def test_ticks_are_round_and_inside_the_range(lo: float, span: float) -> None:
    hi = lo + span
    ticks = nice_ticks(lo, hi)
    assert 1 <= len(ticks) <= 9
    assert all(lo - span * 1e-6 <= t <= hi + span * 1e-6 for t in ticks)


@settings(max_examples=80, deadline=None)
@given(values)
def test_money_is_exact_to_the_cent_and_signed(value: Decimal) -> None:
    text = money(value)
    shown = Decimal(text.replace("−", "-").replace("$", "").replace(",", ""))
    assert abs(shown - value) <= Decimal("0.005")
    assert text.startswith("−") == (shown < 0)


def test_formatting_examples() -> None:
    assert money(Decimal("-3.2")) == "−$3.20"
    assert money(Decimal("1234567.891")) == "$1,234,567.89"
    assert money(None) == "—"
    assert cost(Decimal("0.0413")) == "$0.0413" and cost(Decimal("0.5")) == "$0.50"
    assert price(Decimal("0.65")) == "$0.65" and price(Decimal("0.6525")) == "$0.6525"
    assert pct(Decimal("0.125")) == "12.5%" and pct(None) == "—"
