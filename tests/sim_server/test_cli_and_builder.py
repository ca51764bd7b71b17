"""`kalbot sim serve` argument handling, and the synthetic world it serves."""

from __future__ import annotations

import importlib
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from kalbot.adapters.simulated.server.auth import PublicKey
from kalbot.adapters.simulated.server.builder import ApiKey, build_synthetic
from kalbot.cli.apps import app
from kalbot.domain.market import MarketStatus

from .conformance import Conformance

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str]:
    # Only this command's module: registering every command imports the whole application.
    importlib.import_module("kalbot.cli.sim_serve")
    result = runner.invoke(app, ["sim", "serve", *args])
    return result.exit_code, result.output


def test_each_key_id_needs_its_public_key(tmp_path: Path) -> None:
    code, out = _invoke("--api-key-id", "a", "--api-key-id", "b", "--public-key", "x.pem")
    assert code == 1 and "one --public-key FILE for each --api-key-id" in out


def test_unreadable_public_key_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("nope")
    code, out = _invoke("--api-key-id", "a", "--public-key", str(bad))
    assert code == 1 and "cannot load the public key" in out


def test_no_key_at_all_is_refused() -> None:
    code, out = _invoke()
    assert code == 1 and "register at least one key" in out


def test_bad_options_are_refused_before_serving(tmp_path: Path) -> None:
    code, out = _invoke("--generate-key", str(tmp_path / "k.pem"), "--scenario", "dream")
    assert code == 1 and "synthetic or replay" in out
    code, out = _invoke("--generate-key", str(tmp_path / "k.pem"), "--tier", "platinum")
    assert code == 1 and "--tier must be one of" in out
    code, out = _invoke("--generate-key", str(tmp_path / "k.pem"), "--balance", "lots")
    assert code == 1 and "dollar amount" in out


def test_synthetic_world_opens_accounts_and_trades_as_time_runs(
    public_keys: tuple[PublicKey, PublicKey],
) -> None:
    key = ApiKey("me", public_keys[0], Decimal("2500"))
    world = build_synthetic([key], markets=4, days=1, seed=5, speed=1.0)
    ex = world.service.exchange
    assert ex.balance("me") == Decimal("2500")
    assert "me" in world.keys
    assert len(world.tickers) == 4
    # Simulated time starts when the first market opens.
    world.service.tick()
    statuses = {ex.market_status(t) for t in world.tickers}
    assert MarketStatus.ACTIVE in statuses
    # Jump past every close plus the settlement delay: all markets settle.
    from datetime import timedelta

    world.clock.jump(timedelta(days=3))
    world.service.tick()
    world.service.tick()
    assert {ex.market_status(t) for t in world.tickers} == {MarketStatus.FINALIZED}
    same = build_synthetic([key], markets=4, days=1, seed=5)
    assert same.tickers == world.tickers


def test_reserved_account_ids_are_refused(public_keys: tuple[PublicKey, PublicKey]) -> None:
    import pytest

    key = ApiKey("__maker__", public_keys[0])
    with pytest.raises(ValueError, match="reserved"):
        build_synthetic([key], markets=2, days=1)


def test_replay_lists_recorded_markets_and_moves_quotes_with_the_clock(
    public_keys: tuple[PublicKey, PublicKey],
) -> None:
    from datetime import timedelta

    from kalbot.adapters.simulated.scenarios.synthetic import SyntheticScenario
    from kalbot.adapters.simulated.server.builder import build_replay

    snaps = list(SyntheticScenario(markets=3, days=1, seed=2).snapshots())
    key = ApiKey("me", public_keys[0], Decimal("100"))
    world = build_replay([key], snaps, speed=1.0)
    ex = world.service.exchange
    first = min(s.timestamp for s in snaps)
    assert world.clock.now() >= first
    listed = set(ex.tickers())
    assert listed and listed <= {s.ticker for s in snaps}
    world.clock.jump(timedelta(days=3))
    world.service.tick()
    assert set(ex.tickers()) == {s.ticker for s in snaps}
    assert {ex.market_status(t) for t in ex.tickers()} == {MarketStatus.FINALIZED}


def test_replay_without_a_database_schema_is_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    code, out = _invoke(
        "--generate-key", str(tmp_path / "k.pem"), "--scenario", "replay", "--url", url
    )
    assert code == 1 and "cannot read snapshots" in out


async def test_replayed_markets_are_served_in_kalshi_shapes(
    conformance: Conformance, public_keys: tuple[PublicKey, PublicKey]
) -> None:
    import httpx

    from kalbot.adapters.simulated.scenarios.synthetic import SyntheticScenario
    from kalbot.adapters.simulated.server.app import ServerOptions, serve
    from kalbot.adapters.simulated.server.builder import build_replay

    snaps = list(SyntheticScenario(markets=3, days=1, seed=4).snapshots())
    key = ApiKey("me", public_keys[0], Decimal("100"))
    world = build_replay([key], snaps, speed=1.0)
    opts = ServerOptions(tap=conformance.record, ws_tap=conformance.record_ws)
    async with serve(world.service, world.keys, opts) as server, httpx.AsyncClient() as c:
        markets = (await c.get(server.base_url + "/markets")).json()["markets"]
        assert markets and all(m["status"] in {"active", "initialized"} for m in markets)
        book = await c.get(f"{server.base_url}/markets/{markets[0]['ticker']}/orderbook")
        assert book.status_code == 200
    assert conformance.checked >= 2


def test_server_thread_serves_and_stops_cleanly(public_keys: tuple[PublicKey, PublicKey]) -> None:
    import socket

    import httpx

    from kalbot.adapters.simulated.server.app import ServerThread

    key = ApiKey("me", public_keys[0])
    world = build_synthetic([key], markets=2, days=1, seed=1)
    with ServerThread(world.service, world.keys) as server:
        r = httpx.get(server.base_url + "/exchange/status", timeout=10)
        assert r.status_code == 200 and r.json()["trading_active"] is True
        assert server.ws_url.endswith("/trade-api/ws/v2")
        port = server.port
    with socket.socket() as s:  # the port is free again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
