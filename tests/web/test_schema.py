"""Schemathesis against the dashboard's generated OpenAPI schema: no input yields a 5xx, and
every response matches its documented schema. A live server on 127.0.0.1, a few examples per
operation, on each database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from .live import Live, serve, stop

EXAMPLES = 8


@pytest.fixture(params=["sqlite", "postgresql"])
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Live]:
    fixture = "sqlite_seeded" if request.param == "sqlite" else "postgres_seeded"
    server = serve(request.getfixturevalue(fixture), tmp_path, token=None)
    try:
        yield server
    finally:
        stop(server)


def test_no_generated_request_gets_a_server_error(live: Live) -> None:
    schema = schemathesis.openapi.from_url(f"{live.base}/api/v1/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) >= 12

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

        check()
