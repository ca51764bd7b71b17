"""The WebSocket client: authenticated handshake, subscriptions, local order books, gap healing.

One connection carries every subscription. ``events()`` drives it: it connects (signing
``GET /trade-api/ws/v2``), (re)sends the subscriptions, parses every frame to a typed event,
keeps a local ``OrderBook`` per market from snapshots + deltas, and yields the events. Sequence
numbers are checked per subscription (``sid``); on a gap or duplicate the affected books are
marked stale and a fresh snapshot is requested (REFERENCE §6). A dropped connection is
re-opened with capped exponential backoff and every subscription is sent again; a
``Reconnected`` event tells the caller to reconcile orders and fills over REST.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from kalbot.adapters.kalshi.errors import AuthError
from kalbot.adapters.kalshi.signing import Signer
from kalbot.adapters.kalshi.ws_events import (
    CommandError,
    Event,
    MalformedMessage,
    OrderbookDelta,
    OrderbookSnapshot,
    Reconnected,
    SequenceGap,
    Subscribed,
    Unsubscribed,
    parse_message,
)
from kalbot.domain.market import OrderBook
from kalbot.domain.prices import ONE, Side

log = logging.getLogger(__name__)

CHANNELS = frozenset(
    {
        "ticker",
        "trade",
        "orderbook_delta",
        "fill",
        "user_orders",
        "market_positions",
        "market_lifecycle_v2",
    }
)

Connect = Callable[..., Awaitable[ClientConnection]]


@dataclass(slots=True)
class Subscription:
    """What we asked for; kept so it can be sent again after a reconnect."""

    channels: tuple[str, ...]
    tickers: tuple[str, ...]
    use_yes_price: bool
    command_id: int = 0
    sids: dict[str, int] = field(default_factory=dict)  # channel -> sid on this connection

    def params(self) -> dict[str, Any]:
        p: dict[str, Any] = {"channels": list(self.channels)}
        if self.tickers:
            p["market_tickers"] = list(self.tickers)
        if "orderbook_delta" in self.channels:
            p["use_yes_price"] = self.use_yes_price
        return p


class KalshiWebSocket:
    """One multiplexed WebSocket session with local books. See the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        signer: Signer | None = None,
        connect: Connect | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_reconnects: int | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.url = url
        self.signer = signer
        self._connect: Connect = connect or websockets.connect
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_reconnects = max_reconnects
        self._sleep = sleep
        self._rng = rng
        self._ids = itertools.count(1)
        self._subs: list[Subscription] = []
        self._by_id: dict[int, Subscription] = {}
        self._by_sid: dict[int, tuple[Subscription, str]] = {}
        self._last_seq: dict[int, int] = {}
        self._conn: ClientConnection | None = None
        self._closed = False
        self.books: dict[str, OrderBook] = {}
        self.stale: set[str] = set()
        self.malformed = 0
        self.gaps = 0
        self.reconnects = 0

    def __repr__(self) -> str:
        return f"KalshiWebSocket({self.url!r}, signed={self.signer is not None})"

    # ---- commands ----------------------------------------------------------------------------

    async def _send(self, payload: dict[str, Any]) -> None:
        if self._conn is not None:
            await self._conn.send(json.dumps(payload))

    async def subscribe(
        self, channels: Sequence[str], tickers: Sequence[str] = (), *, use_yes_price: bool = True
    ) -> Subscription:
        """Subscribe now (or on connect). ``use_yes_price`` asks for YES-leg prices on the NO
        side of order books; the local books store each leg in its own price either way."""
        unknown = set(channels) - CHANNELS
        if unknown:
            raise ValueError(f"unknown channel(s) {sorted(unknown)}; one of {sorted(CHANNELS)}")
        if "orderbook_delta" in channels and not tickers:
            raise ValueError("orderbook_delta needs market tickers")
        sub = Subscription(tuple(channels), tuple(tickers), use_yes_price)
        self._subs.append(sub)
        await self._send_subscribe(sub)
        return sub

    async def _send_subscribe(self, sub: Subscription) -> None:
        # the id is registered even while offline so a replayed "subscribed" reply maps back
        sub.command_id = next(self._ids)
        sub.sids.clear()
        self._by_id[sub.command_id] = sub
        for t in sub.tickers if "orderbook_delta" in sub.channels else ():
            self.stale.add(t)  # until its snapshot arrives
        await self._send({"id": sub.command_id, "cmd": "subscribe", "params": sub.params()})

    async def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
        if sub.sids:
            await self._send(
                {
                    "id": next(self._ids),
                    "cmd": "unsubscribe",
                    "params": {"sids": list(sub.sids.values())},
                }
            )
        for sid in sub.sids.values():
            self._forget_sid(sid)
        for t in sub.tickers:
            if not any(t in s.tickers and "orderbook_delta" in s.channels for s in self._subs):
                self.books.pop(t, None)
                self.stale.discard(t)

    async def update_subscription(self, sid: int, action: str, tickers: Sequence[str]) -> None:
        """``add_markets``, ``delete_markets`` or ``get_snapshot`` on one sid."""
        if action not in {"add_markets", "delete_markets", "get_snapshot"}:
            raise ValueError(f"unknown update_subscription action {action!r}")
        entry = self._by_sid.get(sid)
        if entry is not None and action != "get_snapshot":
            sub = entry[0]
            current = list(sub.tickers)
            if action == "add_markets":
                current += [t for t in tickers if t not in current]
            else:
                current = [t for t in current if t not in tickers]
            sub.tickers = tuple(current)
        await self._send(
            {
                "id": next(self._ids),
                "cmd": "update_subscription",
                "params": {"sids": [sid], "market_tickers": list(tickers), "action": action},
            }
        )

    async def close(self) -> None:
        self._closed = True
        if self._conn is not None:
            await self._conn.close()

    def book(self, ticker: str) -> OrderBook | None:
        """The local book, or None while it is missing or stale (awaiting a snapshot)."""
        return None if ticker in self.stale else self.books.get(ticker)

    # ---- the stream --------------------------------------------------------------------------

    def _forget_sid(self, sid: int) -> None:
        self._by_sid.pop(sid, None)
        self._last_seq.pop(sid, None)

    def _headers(self) -> dict[str, str]:
        return self.signer.headers("GET", self.url) if self.signer else {}

    async def events(self) -> AsyncGenerator[Event, None]:
        """Connect and yield events until ``close()``; reconnects on drops."""
        attempt = 0
        while not self._closed:
            try:
                self._conn = await self._connect(self.url, additional_headers=self._headers())
            except (OSError, InvalidHandshake, TimeoutError) as e:
                if isinstance(e, InvalidStatus) and e.response.status_code in (401, 403):
                    # a bad key or signature does not heal by retrying: stop for a human
                    raise AuthError(
                        f"websocket {self.url}: HTTP {e.response.status_code} on the handshake",
                        status=e.response.status_code,
                    ) from None
                attempt += 1
                if self.max_reconnects is not None and attempt > self.max_reconnects:
                    raise
                await self._backoff(attempt, e)
                continue
            if attempt:
                self.reconnects += 1
                yield Reconnected(attempt)
            dropped_before = attempt  # backoff keeps growing while sessions die at once
            got_frame = False
            self._by_sid.clear()
            self._by_id.clear()
            self._last_seq.clear()
            try:
                for sub in self._subs:
                    await self._send_subscribe(sub)
                async for frame in self._conn:
                    got_frame = True
                    for event in await self.handle_frame(frame):
                        yield event
            except ConnectionClosed as e:
                if self._closed:
                    break
                attempt = 1 if got_frame else dropped_before + 1
                self.stale.update(self.books)
                if self.max_reconnects is not None and attempt > self.max_reconnects:
                    raise
                await self._backoff(attempt, e)
            else:
                if self._closed:
                    break
                # the server ended the stream cleanly: reconnect anyway, politely
                attempt = 1 if got_frame else dropped_before + 1
                self.stale.update(self.books)
                await self._backoff(attempt, ConnectionError("server closed the stream"))
            finally:
                with contextlib.suppress(Exception):
                    await self._conn.close()
                self._conn = None

    async def _backoff(self, attempt: int, error: BaseException) -> None:
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** (attempt - 1))
        jitter: float = self._rng()
        delay = ceiling / 2 + jitter * ceiling / 2
        log.warning("websocket %s: %s; reconnecting in %.2fs", self.url, error, delay)
        await self._sleep(delay)

    async def handle_frame(self, frame: str | bytes) -> list[Event]:
        """Process one frame as if it had just arrived (books, seq checks); returns its events.

        ``events()`` calls this for every frame; replays and benchmarks may call it directly.
        """
        try:
            event = parse_message(frame)
        except MalformedMessage as e:
            self.malformed += 1
            log.warning("skipping malformed websocket message: %s", e)
            return []
        # the hot path: an in-sequence delta to a live book
        if type(event) is OrderbookDelta and self._last_seq.get(event.sid) == event.seq - 1:
            self._last_seq[event.sid] = event.seq
            self._apply_delta(event)
            return [event]
        if isinstance(event, Subscribed):
            sub = self._by_id.get(event.id) if event.id is not None else None
            if sub is not None:
                sub.sids[event.channel] = event.sid
                self._by_sid[event.sid] = (sub, event.channel)
            return [event]
        if isinstance(event, Unsubscribed):
            self._forget_sid(event.sid)
            return [event]
        if isinstance(event, CommandError):
            log.warning("websocket command %s failed: [%s] %s", event.id, event.code, event.message)
            return [event]
        if isinstance(event, OrderbookSnapshot | OrderbookDelta):
            gap = await self._check_seq(event.sid, event.seq, isinstance(event, OrderbookSnapshot))
            if isinstance(event, OrderbookSnapshot):
                self._apply_snapshot(event)
                return [event]
            if gap is not None:
                return [gap]
            self._apply_delta(event)
            return [event]
        other_seq = getattr(event, "seq", None)
        other_sid = getattr(event, "sid", None)
        if (
            isinstance(other_seq, int)
            and isinstance(other_sid, int)
            and other_sid in self._last_seq
        ):
            gap = await self._check_seq(other_sid, other_seq, False)
            return [event] if gap is None else [gap, event]
        return [event]

    async def _check_seq(self, sid: int, seq: int, is_snapshot: bool) -> SequenceGap | None:
        last = self._last_seq.get(sid)
        if is_snapshot or last is None or seq == last + 1:
            self._last_seq[sid] = seq
            return None
        self._last_seq[sid] = max(seq, last)
        self.gaps += 1
        # re-subscribing a channel adds tickers to its existing sid: gather from every owner
        tickers = tuple(
            dict.fromkeys(t for sub in self._subs if sid in sub.sids.values() for t in sub.tickers)
        )
        log.warning("sequence gap on sid %s: expected %s, got %s; resyncing", sid, last + 1, seq)
        self.stale.update(tickers)
        if tickers:
            await self.update_subscription(sid, "get_snapshot", tickers)
        return SequenceGap(sid, last + 1, seq, tuple(tickers))

    def _yes_leg_no_side(self, sid: int) -> bool:
        entry = self._by_sid.get(sid)
        return entry[0].use_yes_price if entry else False

    def _apply_snapshot(self, s: OrderbookSnapshot) -> None:
        flip = self._yes_leg_no_side(s.sid)
        book = OrderBook(s.ticker)
        for price, size in s.yes:
            book.set_level(Side.YES, price, size)
        for price, size in s.no:
            book.set_level(Side.NO, ONE - price if flip else price, size)
        self.books[s.ticker] = book
        self.stale.discard(s.ticker)

    def _apply_delta(self, d: OrderbookDelta) -> None:
        if d.ticker in self.stale:
            return  # a snapshot is on its way; deltas before it are already in it
        book = self.books.get(d.ticker)
        if book is None:
            return
        price = ONE - d.price if d.side is Side.NO and self._yes_leg_no_side(d.sid) else d.price
        book.apply_delta(d.side, price, d.delta)
