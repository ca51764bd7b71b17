"""Fixtures for the simulated exchange: a manual clock, one market, funded accounts."""

from __future__ import annotations

import pytest

from kalbot.adapters.simulated.exchange import Exchange
from kalbot.domain.clock import ManualClock
from simulated.helpers import START, make_exchange


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def ex_clock() -> tuple[Exchange, ManualClock]:
    return make_exchange()


@pytest.fixture
def ex(ex_clock: tuple[Exchange, ManualClock]) -> Exchange:
    return ex_clock[0]
