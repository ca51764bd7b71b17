"""`kalbot markets`, `kalbot market TICKER`, `kalbot exchange status` against the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from typer.testing import CliRunner, Result

from kalbot.adapters.simulated.server.app import ServerOptions, ServerThread
from kalbot.adapters.simulated.server.auth import generate_rsa_key_pem, load_public_key
from kalbot.adapters.simulated.server.builder import ApiKey, build_service
from kalbot.adapters.simulated.server.clock import AcceleratedClock
from kalbot.adapters.simulated.server.ratelimit import RateLimiter
from kalbot.adapters.simulated.server.service import ServiceConfig
from kalbot.cli import register_commands
from kalbot.cli.apps import app
from sim_server.conftest import NO_MKT, START, YES_MKT, make_exchange, seed_book


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    clock = AcceleratedClock(START, speed=1.0)
    ex = make_exchange(clock)
    seed_book(ex)
    service, keys = build_service(
        ex,
        [ApiKey("trader", load_public_key(generate_rsa_key_pem()), Decimal("1000"))],
        config=ServiceConfig(settlement_delay=timedelta(minutes=5), tick_seconds=0.05),
    )
    service.flush()
    with ServerThread(service, keys, ServerOptions(rate_limiter=RateLimiter(enabled=False))) as s:
        yield s.base_url


def cli(*args: str) -> Result:
    register_commands()
    env = {"KALBOT_KALSHI__API_KEY_ID": "", "KALSHI_API_KEY_ID": "", "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def test_markets_lists_both_markets_with_both_sides_of_the_quote(base_url: str) -> None:
    r = cli("markets", "--base-url", base_url, "--limit", "10")
    assert r.exit_code == 0, r.output
    assert "2 open market(s)" in r.output
    for ticker in (YES_MKT, NO_MKT):
        line = next(line for line in r.output.splitlines() if ticker in line)
        # yes bid, yes ask, no bid, no ask
        assert "0.40" in line and "0.45" in line and "0.55" in line and "0.60" in line


def test_markets_filters_by_series_and_category(base_url: str) -> None:
    r = cli("markets", "--base-url", base_url, "--series", "KXTEST", "--limit", "1")
    assert r.exit_code == 0, r.output
    assert "1 open market(s)" in r.output
    r = cli("markets", "--base-url", base_url, "--category", "Testing")
    assert r.exit_code == 0 and "2 open market(s)" in r.output
    r = cli("markets", "--base-url", base_url, "--category", "Nothing")
    assert r.exit_code == 0 and "0 open market(s)" in r.output


def test_market_shows_details_and_the_book(base_url: str) -> None:
    r = cli("market", YES_MKT, "--base-url", base_url)
    assert r.exit_code == 0, r.output
    assert "Testing" in r.output and "0.40 x 100 / 0.45 x 100" in r.output
    assert "0.38" in r.output and "0.53" in r.output  # second levels of both legs


def test_unknown_market_and_bad_options_are_one_line_errors(base_url: str) -> None:
    r = cli("market", "KXNOPE-1", "--base-url", base_url)
    assert r.exit_code == 1 and "HTTP 404" in r.output and "Traceback" not in r.output
    r = cli("markets", "--base-url", base_url, "--status", "active")
    assert r.exit_code == 1 and "--status must be" in r.output
    r = cli("exchange", "status", "--env", "staging")
    assert r.exit_code == 1 and "--env must be demo or production" in r.output


def test_exchange_status(base_url: str) -> None:
    r = cli("exchange", "status", "--base-url", base_url)
    assert r.exit_code == 0, r.output
    assert "exchange active, trading open" in r.output
