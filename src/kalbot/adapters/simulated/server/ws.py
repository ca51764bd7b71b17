"""The WebSocket protocol of ``asyncapi.yaml``: commands, subscriptions, ``sid``/``seq``, fan-out.

The ``Hub`` is fed by the server after every change of the exchange: it diffs each subscribed
book against what it last published and sends ``orderbook_delta`` messages, and it forwards
ticker, trade, fill, user order, position and lifecycle messages to the subscriptions they
match. ``seq`` counts per subscription and covers snapshots, deltas and command replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from kalbot.adapters.simulated.server.faults import FaultInjector
from kalbot.adapters.simulated.server.wire import count, dollars

log = logging.getLogger(__name__)

PUBLIC_CHANNELS = frozenset({"ticker", "trade", "market_lifecycle_v2"})
PRIVATE_CHANNELS = frozenset({"orderbook_delta", "fill", "user_orders", "market_positions"})
SUPPORTED_CHANNELS = PUBLIC_CHANNELS | PRIVATE_CHANNELS
ACCOUNT_CHANNELS = frozenset({"fill", "user_orders", "market_positions"})
# Channels Kalshi has that the simulator accepts but never feeds.
SILENT_CHANNELS = frozenset(
    {
        "multivariate_market_lifecycle",
        "communications",
        "order_group_updates",
        "cfbenchmarks_value",
        "pyth_value",
    }
)
QUEUE_LIMIT = 50_000

Levels = dict[Decimal, Decimal]


class BookSource(Protocol):
    """What the hub needs to know about the exchange's books."""

    def has_market(self, ticker: str) -> bool: ...

    def market_id(self, ticker: str) -> str: ...

    def book_levels(self, ticker: str) -> tuple[Levels, Levels]:
        """(YES bids at YES prices, NO bids at NO prices), price -> resting count."""
        ...


class CommandError(Exception):
    def __init__(self, code: int, msg: str, market_ticker: str | None = None) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.market_ticker = market_ticker


@dataclass(slots=True)
class Subscription:
    sid: int
    channel: str
    tickers: set[str] | None  # None = every market
    use_yes_price: bool = False
    seq: int = 0

    def matches(self, ticker: str | None) -> bool:
        return self.tickers is None or ticker is None or ticker in self.tickers


@dataclass(eq=False)
class Session:
    """One WebSocket connection of one account."""

    account: str
    faults: FaultInjector
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_LIMIT)
    )
    subs: dict[int, Subscription] = field(default_factory=dict)
    next_sid: int = 1
    closing: bool = False

    def send(
        self, message: dict[str, Any], sub: Subscription | None = None, *, seq: bool = False
    ) -> None:
        """Queue one message; ``seq=True`` stamps the subscription's next sequence number."""
        if self.closing:
            return
        if seq and sub is not None:
            sub.seq += 1
            if message.get("type") in {"orderbook_delta"} and self.faults.ws_gap():
                return  # the number is spent, the message never goes out: a gap
            message["seq"] = sub.seq
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # The client reads too slowly: tell it (code 25) and drop the connection.
            self.closing = True
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(
                    {"type": "error", "msg": {"code": 25, "msg": "Subscription buffer overflow"}}
                )
            return
        if message.get("type") not in {"subscribed", "ok", "unsubscribed", "error"} and (
            self.faults.ws_disconnect()
        ):
            self.close()

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)


def _levels_msg(levels: Levels, flip: bool) -> list[list[str]]:
    """Ascending by price (best bid last), as Kalshi orders its books."""
    rows = [((Decimal(1) - p) if flip else p, s) for p, s in levels.items() if s > 0]
    rows.sort(key=lambda r: r[0])
    return [[dollars(p), count(s)] for p, s in rows]


class Hub:
    """All open sessions and the last published state of every watched book."""

    def __init__(
        self,
        books: BookSource,
        now_ms: Callable[[], int],
        now_iso: Callable[[], str],
        ticker_msg: Callable[[str], dict[str, Any]] | None = None,
    ) -> None:
        self.books = books
        self.now_ms = now_ms
        self.now_iso = now_iso
        self.ticker_msg = ticker_msg
        self.sessions: set[Session] = set()
        # (ticker, side, own-leg price) -> (account, client_order_id) of the order that moved
        # that level since the last publication; filled in by the service, cleared after.
        self.cause: dict[tuple[str, str, Decimal], tuple[str, str]] = {}
        self._published: dict[str, tuple[Levels, Levels]] = {}

    # --- commands ------------------------------------------------------------------------

    def handle(self, session: Session, raw: str) -> None:
        cmd_id: Any = None
        try:
            try:
                data = json.loads(raw)
            except ValueError:
                raise CommandError(1, "Unable to process message") from None
            if not isinstance(data, dict):
                raise CommandError(1, "Unable to process message")
            cmd_id = data.get("id")
            cmd = data.get("cmd")
            params = data.get("params")
            if cmd == "list_subscriptions":
                session.send(
                    {
                        "id": cmd_id,
                        "type": "ok",
                        "msg": [
                            {"channel": s.channel, "sid": s.sid} for s in session.subs.values()
                        ],
                    }
                )
                return
            if cmd not in {"subscribe", "unsubscribe", "update_subscription"}:
                raise CommandError(5, "Unknown command")
            if not isinstance(params, dict):
                raise CommandError(2, "Params required")
            if cmd == "subscribe":
                self._subscribe(session, cmd_id, params)
            elif cmd == "unsubscribe":
                self._unsubscribe(session, cmd_id, params)
            else:
                self._update(session, cmd_id, params)
        except CommandError as e:
            body: dict[str, Any] = {"code": e.code, "msg": e.msg}
            if e.market_ticker:
                body["market_ticker"] = e.market_ticker
            reply: dict[str, Any] = {"type": "error", "msg": body}
            if isinstance(cmd_id, int):
                reply["id"] = cmd_id
            session.send(reply)

    def _tickers(self, params: dict[str, Any], *, required: bool) -> list[str] | None:
        one = params.get("market_ticker")
        many = params.get("market_tickers")
        if one is not None and many is not None:
            raise CommandError(11, "market_ticker and market_tickers are mutually exclusive")
        if one is not None:
            if not isinstance(one, str) or not one:
                raise CommandError(11, "market_ticker must be a string")
            tickers = [one]
        elif many is not None:
            if not isinstance(many, list) or not all(isinstance(t, str) for t in many):
                raise CommandError(11, "market_tickers must be a list of strings")
            tickers = list(many)
        else:
            if required:
                raise CommandError(14, "Market Ticker required")
            return None
        for t in tickers:
            if not self.books.has_market(t):
                raise CommandError(16, "Market not found", t)
        return tickers

    def _subscribe(self, session: Session, cmd_id: Any, params: dict[str, Any]) -> None:
        channels = params.get("channels")
        if not isinstance(channels, list) or not channels:
            raise CommandError(3, "Channels required")
        for ch in channels:
            if ch not in SUPPORTED_CHANNELS and ch not in SILENT_CHANNELS:
                raise CommandError(8, "Unknown channel name")
        use_yes = params.get("use_yes_price", False)
        if not isinstance(use_yes, bool):
            raise CommandError(11, "use_yes_price must be a boolean")
        needs_market = "orderbook_delta" in channels
        tickers = self._tickers(params, required=needs_market)
        for ch in channels:
            existing = next((s for s in session.subs.values() if s.channel == ch), None)
            if existing is not None:
                # Re-subscribing a channel adds its tickers (Kalshi since 2025-09-25).
                new = [
                    t
                    for t in tickers or ()
                    if existing.tickers is not None and t not in existing.tickers
                ]
                if existing.tickers is not None:
                    if tickers is None:
                        existing.tickers = None
                    else:
                        existing.tickers.update(new)
                session.send(
                    {
                        "id": cmd_id,
                        "type": "subscribed",
                        "msg": {"channel": ch, "sid": existing.sid},
                    }
                )
                if ch == "orderbook_delta":
                    self._snapshots(session, existing, new)
                continue
            sub = Subscription(
                sid=session.next_sid,
                channel=ch,
                tickers=set(tickers) if tickers is not None else None,
                use_yes_price=use_yes,
            )
            session.next_sid += 1
            session.subs[sub.sid] = sub
            session.send(
                {"id": cmd_id, "type": "subscribed", "msg": {"channel": ch, "sid": sub.sid}}
            )
            if ch == "orderbook_delta":
                self._snapshots(session, sub, tickers or [])
            elif ch == "ticker" and params.get("send_initial_snapshot") is True:
                self._ticker_snapshots(session, sub, tickers or [])

    def _unsubscribe(self, session: Session, cmd_id: Any, params: dict[str, Any]) -> None:
        sids = params.get("sids")
        if not isinstance(sids, list) or not sids:
            raise CommandError(4, "Subscription IDs required")
        for sid in sids:
            if not isinstance(sid, int) or sid not in session.subs:
                raise CommandError(7, "Unknown subscription ID")
        for sid in sids:
            sub = session.subs.pop(sid)
            sub.seq += 1
            session.send({"id": cmd_id, "sid": sid, "seq": sub.seq, "type": "unsubscribed"})

    def _update(self, session: Session, cmd_id: Any, params: dict[str, Any]) -> None:
        action = params.get("action")
        if action is None:
            raise CommandError(15, "Action required")
        sid = params.get("sid")
        sids = params.get("sids")
        if (sid is None) == (sids is None):
            raise CommandError(12, "Exactly one subscription ID is required")
        if sids is not None:
            if not isinstance(sids, list) or len(sids) != 1:
                raise CommandError(12, "Exactly one subscription ID is required")
            sid = sids[0]
        if not isinstance(sid, int) or sid not in session.subs:
            raise CommandError(7, "Unknown subscription ID")
        sub = session.subs[sid]
        if action not in {"add_markets", "delete_markets", "get_snapshot"}:
            raise CommandError(13, "Unsupported action")
        tickers = self._tickers(params, required=True) or []
        if action == "get_snapshot":
            if sub.channel != "orderbook_delta":
                raise CommandError(13, "get_snapshot is only supported on orderbook_delta")
            self._snapshots(session, sub, [t for t in tickers if sub.matches(t)])
            return
        if sub.tickers is None:
            raise CommandError(10, "this subscription covers every market")
        if action == "add_markets":
            new = [t for t in tickers if t not in sub.tickers]
            sub.tickers.update(new)
        else:
            sub.tickers.difference_update(tickers)
            new = []
        sub.seq += 1
        session.send(
            {
                "id": cmd_id,
                "sid": sid,
                "seq": sub.seq,
                "type": "ok",
                "msg": {"market_tickers": sorted(sub.tickers)},
            }
        )
        if sub.channel == "orderbook_delta" and new:
            self._snapshots(session, sub, new)

    def _ticker_snapshots(
        self, session: Session, sub: Subscription, tickers: Iterable[str]
    ) -> None:
        """``send_initial_snapshot``: one ticker message per named market, at once."""
        if self.ticker_msg is None:
            return
        for t in tickers:
            session.send({"type": "ticker", "sid": sub.sid, "msg": self.ticker_msg(t)})

    def _snapshots(self, session: Session, sub: Subscription, tickers: Iterable[str]) -> None:
        for t in tickers:
            self.book_changed(t)  # bring every other subscriber up to date first
            yes, no = self._published.get(t) or self.books.book_levels(t)
            msg: dict[str, Any] = {"market_ticker": t, "market_id": self.books.market_id(t)}
            if yes:
                msg["yes_dollars_fp"] = _levels_msg(yes, flip=False)
            if no:
                msg["no_dollars_fp"] = _levels_msg(no, flip=sub.use_yes_price)
            session.send({"type": "orderbook_snapshot", "sid": sub.sid, "msg": msg}, sub, seq=True)

    # --- feeds ---------------------------------------------------------------------------

    def _watched(self, ticker: str) -> bool:
        return any(
            sub.channel == "orderbook_delta" and sub.matches(ticker)
            for s in self.sessions
            for sub in s.subs.values()
        )

    def book_changed(self, ticker: str) -> None:
        """Publish the difference between ``ticker``'s book and what subscribers last saw."""
        if not self._watched(ticker):
            self._published.pop(ticker, None)
            return
        yes, no = self.books.book_levels(ticker)
        yes, no = dict(yes), dict(no)
        old = self._published.get(ticker)
        self._published[ticker] = (yes, no)
        if old is None:
            return
        ts_ms = self.now_ms()
        ts = self.now_iso()
        for side, new_levels, old_levels in (("yes", yes, old[0]), ("no", no, old[1])):
            for price in sorted(set(new_levels) | set(old_levels)):
                delta = new_levels.get(price, Decimal(0)) - old_levels.get(price, Decimal(0))
                if delta == 0:
                    continue
                for session in list(self.sessions):
                    for sub in session.subs.values():
                        if sub.channel != "orderbook_delta" or not sub.matches(ticker):
                            continue
                        shown = (
                            Decimal(1) - price if (side == "no" and sub.use_yes_price) else price
                        )
                        msg: dict[str, Any] = {
                            "market_ticker": ticker,
                            "market_id": self.books.market_id(ticker),
                            "price_dollars": dollars(shown),
                            "delta_fp": count(delta),
                            "side": side,
                            "ts": ts,
                            "ts_ms": ts_ms,
                        }
                        cause = self.cause.get((ticker, side, price))
                        if cause is not None and cause[0] == session.account:
                            msg["client_order_id"] = cause[1]
                        session.send(
                            {"type": "orderbook_delta", "sid": sub.sid, "msg": msg}, sub, seq=True
                        )

    def publish(
        self,
        channel: str,
        msg_type: str,
        msg: dict[str, Any],
        *,
        ticker: str | None = None,
        account: str | None = None,
    ) -> None:
        """Send one channel message to every matching subscription (``account`` for private)."""
        for session in list(self.sessions):
            if account is not None and session.account != account:
                continue
            for sub in session.subs.values():
                if sub.channel == channel and sub.matches(ticker):
                    session.send({"type": msg_type, "sid": sub.sid, "msg": dict(msg)})
