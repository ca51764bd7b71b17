"""Authenticated REST endpoints: balance, positions, orders, fills, settlements, V2 order entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kalbot.adapters.simulated.errors import EngineError, ErrorCode
from kalbot.adapters.simulated.records import (
    FillRecord,
    PlaceResult,
    PositionView,
    SelfTradePrevention,
)
from kalbot.adapters.simulated.server import payloads
from kalbot.adapters.simulated.server.http import Ctx
from kalbot.adapters.simulated.server.rest_market import Result, _ts_param, engine_error
from kalbot.adapters.simulated.server.service import SimService
from kalbot.adapters.simulated.server.wire import (
    WireError,
    count,
    dollars,
    error_body,
    paginate,
    parse_bool,
    parse_count,
    parse_price,
    query_list,
)
from kalbot.domain.orders import BookSide, OrderStatus, TimeInForce, V2Order

MAX_BATCH = 20
# Routes served although openapi.yaml no longer has them (the dead legacy write paths).
NOT_IN_SPEC = frozenset({("POST", "/portfolio/orders"), ("DELETE", "/portfolio/orders/{order_id}")})


def _account(ctx: Ctx) -> str:
    assert ctx.account is not None  # the route requires authentication
    return ctx.account


def _body(ctx: Ctx) -> dict[str, Any]:
    if not isinstance(ctx.body, dict):
        raise WireError(400, "invalid_parameters", "a JSON object body is required")
    return ctx.body


def _enum(value: object, field: str, allowed: set[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise WireError(
            400, "invalid_parameters", f"{field} must be one of {', '.join(sorted(allowed))}"
        )
    return value


def _subaccount(body: dict[str, Any]) -> None:
    sub = body.get("subaccount", 0)
    if sub not in (0, None):
        raise WireError(400, "invalid_parameters", "the simulator has no subaccounts (use 0)")


def parse_create(body: object) -> tuple[V2Order, SelfTradePrevention, datetime | None]:
    """A ``CreateOrderV2Request`` body, validated; raises WireError(400) naming the field."""
    if not isinstance(body, dict):
        raise WireError(400, "invalid_parameters", "each order must be a JSON object")
    ticker = body.get("ticker")
    if not isinstance(ticker, str) or not ticker:
        raise WireError(400, "invalid_parameters", "ticker is required")
    side = _enum(body.get("side"), "side", {"bid", "ask"})
    tif = _enum(body.get("time_in_force"), "time_in_force", {t.value for t in TimeInForce})
    stp = _enum(
        body.get("self_trade_prevention_type"),
        "self_trade_prevention_type",
        {s.value for s in SelfTradePrevention},
    )
    client_order_id = body.get("client_order_id") or ""
    if not isinstance(client_order_id, str):
        raise WireError(400, "invalid_parameters", "client_order_id must be a string")
    expiration: datetime | None = None
    raw_exp = body.get("expiration_time")
    if raw_exp is not None:
        if isinstance(raw_exp, bool) or not isinstance(raw_exp, int):
            raise WireError(400, "invalid_parameters", "expiration_time is Unix seconds")
        expiration = datetime.fromtimestamp(raw_exp, UTC)
    _subaccount(body)
    order = V2Order(
        ticker=ticker,
        book_side=BookSide(side),
        price=parse_price(body.get("price"), "price"),
        count=parse_count(body.get("count"), "count"),
        client_order_id=client_order_id,
        time_in_force=TimeInForce(tif),
        post_only=parse_bool(body.get("post_only"), "post_only"),
        reduce_only=parse_bool(body.get("reduce_only"), "reduce_only"),
    )
    return order, SelfTradePrevention(stp), expiration


def _placed(r: PlaceResult, ts_ms: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "order_id": r.order.order_id,
        "client_order_id": r.order.client_order_id,
        "fill_count": count(r.fill_count),
        "remaining_count": count(r.remaining_count),
        "ts_ms": ts_ms,
    }
    avg_price, avg_fee = r.average_fill_price, r.average_fee_paid
    if avg_price is not None and avg_fee is not None:
        out["average_fill_price"] = dollars(avg_price)
        out["average_fee_paid"] = dollars(avg_fee)
    return out


class PortfolioRoutes:
    def __init__(self, service: SimService) -> None:
        self.s = service

    # --- reads ---------------------------------------------------------------------------

    async def balance(self, ctx: Ctx) -> Result:
        acct = _account(ctx)
        ex = self.s.exchange
        available = ex.available_balance(acct)
        value = Decimal(0)
        for p in ex.positions(acct):
            q = ex.quote(p.ticker)
            # Liquidation value: long YES sells at the YES bid, long NO at the NO bid.
            bid = q.yes_bid if p.position > 0 else q.no_bid
            value += abs(p.position) * (bid or Decimal(0))
        return 200, {
            "balance": payloads.cents(available),
            "balance_dollars": dollars(available),
            "portfolio_value": payloads.cents(value),
            "updated_ts": int(self.s.now().timestamp()),
            "balance_breakdown": [{"exchange_index": 0, "balance": dollars(available)}],
        }

    async def positions(self, ctx: Ctx) -> Result:
        acct = _account(ctx)
        q = ctx.query
        ex = self.s.exchange
        ticker = q.get("ticker") or None
        event = q.get("event_ticker") or None
        filters = set(query_list(q, "count_filter") or [])
        rows = []
        for p in ex.positions(acct, ticker):
            if event and ex.market_spec(p.ticker).event_ticker != event:
                continue
            if "position" in filters and p.position == 0:
                continue
            if "total_traded" in filters and p.total_traded == 0:
                continue
            rows.append(p)
        return 200, self.positions_page(rows, q)

    def positions_page(self, rows: list[PositionView], q: dict[str, str]) -> dict[str, Any]:
        """A ``GetPositionsResponse`` page of ``rows`` with its per-event totals."""
        ex = self.s.exchange
        page, cursor = paginate(rows, q)
        now = self.s.now()
        events: dict[str, dict[str, Decimal]] = {}
        for p in page:
            agg = events.setdefault(
                ex.market_spec(p.ticker).event_ticker,
                {"cost": Decimal(0), "shares": Decimal(0), "pnl": Decimal(0), "fees": Decimal(0)},
            )
            agg["cost"] += p.total_traded
            agg["shares"] += abs(p.position)
            agg["pnl"] += p.realized_pnl
            agg["fees"] += p.fees_paid
        return {
            "market_positions": [payloads.position(p, now) for p in page],
            "event_positions": [
                {
                    "event_ticker": e,
                    "total_cost_dollars": dollars(a["cost"]),
                    "total_cost_shares_fp": count(a["shares"]),
                    "event_exposure_dollars": dollars(a["cost"]),
                    "realized_pnl_dollars": dollars(a["pnl"]),
                    "fees_paid_dollars": dollars(a["fees"]),
                }
                for e, a in sorted(events.items())
            ],
            "cursor": cursor,
        }

    async def orders(self, ctx: Ctx) -> Result:
        acct = _account(ctx)
        q = ctx.query
        ex = self.s.exchange
        status = q.get("status") or None
        if status is not None:
            _enum(status, "status", {s.value for s in OrderStatus})
        events = set(query_list(q, "event_ticker") or [])
        if len(events) > 10:
            raise WireError(400, "invalid_parameters", "at most 10 event tickers")
        min_ts, max_ts = _ts_param(q, "min_ts"), _ts_param(q, "max_ts")
        rows = ex.orders(
            acct, ticker=q.get("ticker") or None, status=OrderStatus(status) if status else None
        )
        cutoff = self.s.cutoff()
        rows = [
            o
            for o in rows
            if not self.s.order_archived(o, cutoff)  # those are on /historical/orders
            and (not events or ex.market_spec(o.ticker).event_ticker in events)
            and (min_ts is None or o.last_update_time >= min_ts)
            and (max_ts is None or o.created_time <= max_ts)
        ]
        rows.reverse()  # newest first
        page, cursor = paginate(rows, q)
        return 200, {"orders": [payloads.order(o) for o in page], "cursor": cursor}

    async def order_one(self, ctx: Ctx) -> Result:
        try:
            o = self.s.exchange.order(_account(ctx), ctx.path_params["order_id"])
        except EngineError as e:
            raise engine_error(e) from None
        if self.s.order_archived(o, self.s.cutoff()):
            raise WireError(404, "not_found", f"order {o.order_id} is on /historical/orders")
        return 200, {"order": payloads.order(o)}

    def fill_list(self, acct: str, q: dict[str, str], *, historical: bool) -> list[FillRecord]:
        """The account's fills matching ``q``, newest first: those before the cutoff when
        ``historical``, the others otherwise."""
        min_ts, max_ts = _ts_param(q, "min_ts"), _ts_param(q, "max_ts")
        order_id = q.get("order_id") or None
        cutoff = self.s.cutoff()
        rows = [
            f
            for f in self.s.exchange.fills(acct, ticker=q.get("ticker") or None, since=min_ts)
            if (f.ts < cutoff) == historical
            and (order_id is None or f.order_id == order_id)
            and (max_ts is None or f.ts <= max_ts)
        ]
        rows.reverse()
        return rows

    async def fills(self, ctx: Ctx) -> Result:
        rows = self.fill_list(_account(ctx), ctx.query, historical=False)
        page, cursor = paginate(rows, ctx.query)
        return 200, {"fills": [payloads.fill(f) for f in page], "cursor": cursor}

    async def settlements(self, ctx: Ctx) -> Result:
        q = ctx.query
        ticker, event = q.get("ticker") or None, q.get("event_ticker") or None
        min_ts, max_ts = _ts_param(q, "min_ts"), _ts_param(q, "max_ts")
        rows = [
            s
            for s in self.s.exchange.settlements(_account(ctx))
            if (ticker is None or s.ticker == ticker)
            and (event is None or s.event_ticker == event)
            and (min_ts is None or s.settled_time >= min_ts)
            and (max_ts is None or s.settled_time <= max_ts)
        ]
        rows.reverse()
        page, cursor = paginate(rows, q)
        return 200, {"settlements": [payloads.settlement(s) for s in page], "cursor": cursor}

    # --- order entry (V2) ----------------------------------------------------------------

    def _create(self, acct: str, body: object) -> dict[str, Any]:
        order, stp, expiration = parse_create(body)
        try:
            r = self.s.exchange.place(
                acct, order, self_trade_prevention=stp, expiration_time=expiration
            )
        except EngineError as e:
            if e.code is ErrorCode.MARKET_NOT_FOUND:
                # Order creation documents no 404: an unknown ticker is a bad request.
                raise WireError(400, e.code.value, e.message) from None
            raise engine_error(e) from None
        finally:
            self.s.flush()
        return _placed(r, self.s.now_ms())

    async def create(self, ctx: Ctx) -> Result:
        return 201, self._create(_account(ctx), ctx.body)

    async def batch_create(self, ctx: Ctx) -> Result:
        acct = _account(ctx)
        items = _body(ctx).get("orders")
        if not isinstance(items, list) or not items or len(items) > MAX_BATCH:
            raise WireError(400, "invalid_parameters", f"orders: 1 to {MAX_BATCH} orders")
        out: list[dict[str, Any]] = []
        for item in items:
            try:
                out.append(self._create(acct, item))
            except WireError as e:
                cid = item.get("client_order_id") if isinstance(item, dict) else None
                out.append(
                    {
                        "client_order_id": cid if isinstance(cid, str) else None,
                        "fill_count": None,
                        "remaining_count": None,
                        "average_fill_price": None,
                        "average_fee_paid": None,
                        "ts_ms": None,
                        "error": error_body(e.code, e.message)["error"],
                    }
                )
        return 201, {"orders": out}

    def _cancel(self, acct: str, order_id: str) -> dict[str, Any]:
        try:
            r = self.s.exchange.cancel(acct, order_id)
        except EngineError as e:
            if e.code is ErrorCode.INVALID_ORDER:
                # A filled or canceled order is no longer in the book: the spec's answer for
                # DELETE is 404 (it documents no 400 there).
                raise WireError(404, "not_found", e.message) from None
            raise engine_error(e) from None
        finally:
            self.s.flush()
        return {
            "order_id": r.order_id,
            "client_order_id": r.client_order_id,
            "reduced_by": count(r.reduced_by),
            "ts_ms": self.s.now_ms(),
        }

    async def cancel(self, ctx: Ctx) -> Result:
        return 200, self._cancel(_account(ctx), ctx.path_params["order_id"])

    async def batch_cancel(self, ctx: Ctx) -> Result:
        acct = _account(ctx)
        body = _body(ctx)
        items = body.get("orders")
        if items is None and isinstance(body.get("ids"), list):  # the older shape
            items = [{"order_id": i} for i in body["ids"]]
        if not isinstance(items, list) or not items or len(items) > MAX_BATCH:
            raise WireError(400, "invalid_parameters", f"orders: 1 to {MAX_BATCH} orders")
        out: list[dict[str, Any]] = []
        for item in items:
            oid = item.get("order_id") if isinstance(item, dict) else None
            if not isinstance(oid, str):
                raise WireError(400, "invalid_parameters", "each order needs an order_id")
            try:
                out.append(self._cancel(acct, oid))
            except WireError as e:
                out.append(
                    {
                        "order_id": oid,
                        "client_order_id": None,
                        "reduced_by": count(Decimal(0)),
                        "ts_ms": None,
                        "error": error_body(e.code, e.message)["error"],
                    }
                )
        return 200, {"orders": out}

    async def amend(self, ctx: Ctx) -> Result:
        acct = _account(ctx)
        body = _body(ctx)
        ticker = body.get("ticker")
        if not isinstance(ticker, str) or not ticker:
            raise WireError(400, "invalid_parameters", "ticker is required")
        side = _enum(body.get("side"), "side", {"bid", "ask"})
        updated = body.get("updated_client_order_id")
        if updated is not None and not isinstance(updated, str):
            raise WireError(400, "invalid_parameters", "updated_client_order_id must be a string")
        try:
            r = self.s.exchange.amend(
                acct,
                ctx.path_params["order_id"],
                ticker=ticker,
                book_side=BookSide(side),
                price=parse_price(body.get("price"), "price"),
                count=parse_count(body.get("count"), "count"),
                updated_client_order_id=updated or None,
            )
        except EngineError as e:
            raise engine_error(e) from None
        finally:
            self.s.flush()
        return 200, _placed(r, self.s.now_ms())

    async def decrease(self, ctx: Ctx) -> Result:
        acct = _account(ctx)
        body = _body(ctx)
        by, to = body.get("reduce_by"), body.get("reduce_to")
        if (by is None) == (to is None):
            raise WireError(400, "invalid_parameters", "give exactly one of reduce_by, reduce_to")
        reduce_by = parse_count(by, "reduce_by") if by is not None else None
        reduce_to = parse_count(to, "reduce_to", allow_zero=True) if to is not None else None
        try:
            o = self.s.exchange.decrease(
                acct, ctx.path_params["order_id"], reduce_by=reduce_by, reduce_to=reduce_to
            )
        except EngineError as e:
            raise engine_error(e) from None
        finally:
            self.s.flush()
        return 200, {
            "order_id": o.order_id,
            "client_order_id": o.client_order_id,
            "remaining_count": count(o.remaining_count),
            "ts_ms": self.s.now_ms(),
        }

    async def legacy_write(self, ctx: Ctx) -> Result:
        raise WireError(400, "deprecated_endpoint", "Please switch to the V2 endpoints")

    def routes(self) -> list[tuple[str, str, Callable[[Ctx], Any], bool]]:
        return [
            ("GET", "/portfolio/balance", self.balance, True),
            ("GET", "/portfolio/positions", self.positions, True),
            ("GET", "/portfolio/orders", self.orders, True),
            ("GET", "/portfolio/orders/{order_id}", self.order_one, True),
            ("GET", "/portfolio/fills", self.fills, True),
            ("GET", "/portfolio/settlements", self.settlements, True),
            ("POST", "/portfolio/events/orders", self.create, True),
            ("POST", "/portfolio/events/orders/batched", self.batch_create, True),
            ("DELETE", "/portfolio/events/orders/batched", self.batch_cancel, True),
            ("DELETE", "/portfolio/events/orders/{order_id}", self.cancel, True),
            ("POST", "/portfolio/events/orders/{order_id}/amend", self.amend, True),
            ("POST", "/portfolio/events/orders/{order_id}/decrease", self.decrease, True),
            ("POST", "/portfolio/orders", self.legacy_write, True),
            ("DELETE", "/portfolio/orders/{order_id}", self.legacy_write, True),
        ]
