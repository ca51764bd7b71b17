"""Validate answers against Kalshi's own specs: REST bodies against ``openapi.yaml``'s response
schema for the path, method and status; WebSocket messages against ``asyncapi.yaml``'s payload
schemas. Beyond the specs, every ``*_dollars`` string must be a 4-decimal fixed-point number and
every ``*_fp`` string a 2-decimal count. A failure names the operation and the JSON path.

Reusable by any suite (the Kalshi client's contract suite too)::

    from sim_server.conformance import Conformance, conformance  # fixture

    conf = Conformance.load()
    conf.check_response("GET", "/markets/{ticker}", 200, body)   # raises ConformanceError
    conf.check_ws(message)
    # or pass ``conf.record`` as the server's tap, then ``conf.assert_clean()``
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

DOLLARS_RE = re.compile(r"^-?\d+\.\d{4}$")
# Rate limits and server errors can answer any endpoint (REFERENCE §5) though the spec lists
# them on only some; any other undocumented status is a conformance failure.
ANY_ENDPOINT_STATUSES = frozenset({429, 500, 503})
COUNT_RE = re.compile(r"^-?\d+\.\d{2}$")
# Requests: prices with 2-4 decimals, counts with 0-2 (openapi FixedPointDollars/Count).
REQUEST_PRICE_RE = re.compile(r"^\d+\.\d{2,4}$")
REQUEST_COUNT_RE = re.compile(r"^\d+(\.\d{1,2})?$")
_REQUEST_PRICES = {"price"}
_REQUEST_COUNTS = {"count", "reduce_by", "reduce_to"}


def shared_dir() -> Path:
    """The shared folder: ``../shared`` beside the checkout, else /work/shared."""
    beside = Path(__file__).resolve().parents[3] / "shared"
    return beside if (beside / "kalshi").is_dir() else Path("/work/shared")


class ConformanceError(AssertionError):
    pass


def _openapi_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable`` to JSON Schema (``type: [T, "null"]`` or ``anyOf`` with null)."""
    if isinstance(node, list):
        return [_openapi_to_jsonschema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi_to_jsonschema(v) for k, v in node.items()}
    if out.pop("nullable", False):
        if "type" in out and isinstance(out["type"], str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            inner = {k: v for k, v in out.items() if k in {"$ref", "allOf", "oneOf", "anyOf"}}
            rest = {k: v for k, v in out.items() if k not in inner}
            out = {**rest, "anyOf": [inner, {"type": "null"}]}
    return out


_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return "T" in value


# WS message type -> asyncapi payload schema.
WS_PAYLOADS = {
    "orderbook_snapshot": "orderbookSnapshotPayload",
    "orderbook_delta": "orderbookDeltaPayload",
    "ticker": "tickerPayload",
    "trade": "tradePayload",
    "fill": "fillPayload",
    "user_order": "userOrderPayload",
    "market_position": "marketPositionPayload",
    "market_lifecycle_v2": "marketLifecycleV2Payload",
    "event_lifecycle": "eventLifecyclePayload",
    "subscribed": "subscribedResponsePayload",
    "unsubscribed": "unsubscribedResponsePayload",
    "ok": "okResponsePayload",
    "error": "errorResponsePayload",
}


def _fixed_point_problems(node: Any, path: str = "$") -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            here = f"{path}.{k}"
            if isinstance(v, str) and k.endswith("_dollars") and not DOLLARS_RE.match(v):
                yield f"{here}: {v!r} is not a 4-decimal dollar string"
            elif isinstance(v, str) and k.endswith("_fp") and not COUNT_RE.match(v):
                yield f"{here}: {v!r} is not a 2-decimal count string"
            elif k in {"yes_dollars_fp", "no_dollars_fp", "yes_dollars", "no_dollars"} and (
                isinstance(v, list)
            ):
                for i, level in enumerate(v):
                    ok = (
                        isinstance(level, list)
                        and len(level) == 2
                        and isinstance(level[0], str)
                        and isinstance(level[1], str)
                        and DOLLARS_RE.match(level[0])
                        and COUNT_RE.match(level[1])
                    )
                    if not ok:
                        yield f"{here}[{i}]: {level!r} is not [price_dollars, count_fp]"
            else:
                yield from _fixed_point_problems(v, here)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _fixed_point_problems(v, f"{path}[{i}]")


class _Specs:
    """Parsed specs and compiled validators, shared by every collector (parsing is slow)."""

    def __init__(self, openapi: dict[str, Any], asyncapi: dict[str, Any]) -> None:
        self.openapi = _openapi_to_jsonschema(openapi)
        self.asyncapi = asyncapi
        self.oa_registry: Registry[Any] = Registry().with_resource(
            "urn:openapi", Resource.from_contents(self.openapi, default_specification=DRAFT7)
        )
        self.aa_registry: Registry[Any] = Registry().with_resource(
            "urn:asyncapi", Resource.from_contents(asyncapi, default_specification=DRAFT7)
        )
        self._lock = threading.Lock()
        self._response: dict[tuple[str, str, int], jsonschema.Draft7Validator | None] = {}
        self._ws: dict[str, jsonschema.Draft7Validator] = {}

    def response_validator(
        self, method: str, template: str, status: int
    ) -> jsonschema.Draft7Validator | None:
        key = (method, template, status)
        with self._lock:
            if key not in self._response:
                self._response[key] = self._build_response_validator(method, template, status)
            return self._response[key]

    def _build_response_validator(
        self, method: str, template: str, status: int
    ) -> jsonschema.Draft7Validator | None:
        op = self.openapi["paths"].get(template, {}).get(method.lower())
        if op is None:
            raise ConformanceError(f"{method} {template}: not an operation in openapi.yaml")
        responses = op.get("responses", {})
        if str(status) not in responses and status in ANY_ENDPOINT_STATUSES:
            return None
        if str(status) not in responses:
            raise ConformanceError(
                f"{method} {template}: status {status} is not documented "
                f"(documented: {', '.join(sorted(responses))})"
            )
        resp = responses[str(status)]
        if "$ref" in resp:
            name = resp["$ref"].rsplit("/", 1)[1]
            pointer = f"urn:openapi#/components/responses/{name}"
            resp = self.openapi["components"]["responses"][name]
        else:
            pointer = f"urn:openapi#/paths/{_escape(template)}/{method.lower()}/responses/{status}"
        content = resp.get("content", {}).get("application/json")
        if not content or "schema" not in content:
            return None
        schema = {"$ref": pointer + "/content/application~1json/schema"}
        return jsonschema.Draft7Validator(
            schema, registry=self.oa_registry, format_checker=_FORMATS
        )

    def request_validator(self, method: str, template: str) -> jsonschema.Draft7Validator | None:
        key = (method, template, 0)
        with self._lock:
            if key not in self._response:
                op = self.openapi["paths"].get(template, {}).get(method.lower())
                if op is None:
                    raise ConformanceError(f"{method} {template}: not an operation in openapi.yaml")
                body = op.get("requestBody", {}).get("content", {}).get("application/json")
                self._response[key] = (
                    None
                    if not body
                    else jsonschema.Draft7Validator(
                        {
                            "$ref": f"urn:openapi#/paths/{_escape(template)}/{method.lower()}"
                            "/requestBody/content/application~1json/schema"
                        },
                        registry=self.oa_registry,
                        format_checker=_FORMATS,
                    )
                )
            return self._response[key]

    def ws_validator(self, name: str) -> jsonschema.Draft7Validator:
        with self._lock:
            if name not in self._ws:
                schema = {"$ref": f"urn:asyncapi#/components/schemas/{name}"}
                self._ws[name] = jsonschema.Draft7Validator(
                    schema, registry=self.aa_registry, format_checker=_FORMATS
                )
            return self._ws[name]


@functools.cache
def _specs(root: Path) -> _Specs:
    # The C loader parses the 300 kB spec about six times faster than the pure-Python one.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    oa = yaml.load((root / "kalshi" / "openapi.yaml").read_text(encoding="utf-8"), Loader=loader)
    aa = yaml.load((root / "kalshi" / "asyncapi.yaml").read_text(encoding="utf-8"), Loader=loader)
    return _Specs(oa, aa)


class Conformance:
    """Checks answers against the specs; ``record``/``record_ws`` collect problems from a tap."""

    def __init__(self, specs: _Specs) -> None:
        self.specs = specs
        self.problems: list[str] = []
        self.checked = 0
        self._lock = threading.Lock()

    @classmethod
    def load(cls, root: Path | None = None) -> Conformance:
        return cls(_specs(root or shared_dir()))

    def check_response(self, method: str, template: str, status: int, body: Any) -> None:
        """Raise ConformanceError naming the operation and field when ``body`` breaks the spec."""
        where = f"{method.upper()} {template} {status}"
        problems: list[str] = []
        validator = self.specs.response_validator(method.upper(), template, status)
        if validator is not None:
            for err in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
                problems.append(f"{err.json_path}: {err.message}")
        problems.extend(_fixed_point_problems(body))
        if status >= 400:
            problems.extend(_error_body_problems(status, body))
        if problems:
            raise ConformanceError(f"{where}: " + "; ".join(problems[:10]))

    def check_ws(self, message: Any) -> None:
        """Raise ConformanceError when a WebSocket message breaks its asyncapi payload schema."""
        if not isinstance(message, dict) or "type" not in message:
            raise ConformanceError(f"WS message without a type: {message!r}")
        kind = message["type"]
        name = WS_PAYLOADS.get(kind)
        if name is None:
            raise ConformanceError(f"WS {kind}: not a message type of asyncapi.yaml")
        if kind == "ok" and isinstance(message.get("msg"), list):
            name = "listSubscriptionsResponsePayload"
        problems = [
            f"{e.json_path}: {e.message}"
            for e in sorted(
                self.specs.ws_validator(name).iter_errors(message),
                key=lambda e: list(e.absolute_path),
            )
        ]
        problems.extend(_fixed_point_problems(message))
        if problems:
            raise ConformanceError(f"WS {kind}: " + "; ".join(problems[:10]))

    def check_request(self, method: str, template: str, body: Any) -> None:
        """Raise ConformanceError when a request body breaks the operation's requestBody schema."""
        where = f"{method.upper()} {template} request"
        validator = self.specs.request_validator(method.upper(), template)
        problems = (
            []
            if validator is None
            else [
                f"{e.json_path}: {e.message}"
                for e in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
            ]
        )
        problems.extend(_request_number_problems(body))
        if problems:
            raise ConformanceError(f"{where}: " + "; ".join(problems[:10]))

    # --- as a server tap -----------------------------------------------------------------

    def record_request(self, method: str, template: str, body: Any) -> None:
        """Request tap for the server (``ServerOptions.request_tap``)."""
        try:
            self.check_request(method, template, body)
        except ConformanceError as e:
            with self._lock:
                self.problems.append(str(e))
        with self._lock:
            self.checked += 1

    def record(self, method: str, template: str, status: int, body: Any) -> None:
        """Tap for the server: validate, and remember any problem instead of raising."""
        try:
            self.check_response(method, template, status, body)
        except ConformanceError as e:
            with self._lock:
                self.problems.append(str(e))
        with self._lock:
            self.checked += 1

    def record_ws(self, message: Any) -> None:
        try:
            self.check_ws(message)
        except ConformanceError as e:
            with self._lock:
                self.problems.append(str(e))
        with self._lock:
            self.checked += 1

    def assert_clean(self) -> None:
        if self.problems:
            raise ConformanceError(
                f"{len(self.problems)} of {self.checked} answers break the spec:\n"
                + "\n".join(self.problems[:20])
            )


def _request_number_problems(node: Any, path: str = "$") -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            here = f"{path}.{k}"
            if k in _REQUEST_PRICES and isinstance(v, str) and not REQUEST_PRICE_RE.match(v):
                yield f"{here}: {v!r} is not a dollar string with 2-4 decimals"
            elif k in _REQUEST_COUNTS and isinstance(v, str) and not REQUEST_COUNT_RE.match(v):
                yield f"{here}: {v!r} is not a count string with 0-2 decimals"
            else:
                yield from _request_number_problems(v, here)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _request_number_problems(v, f"{path}[{i}]")


def _error_body_problems(status: int, body: Any) -> Iterator[str]:
    """Kalshi's errors: ``{"error": {"code", "message", "details"?}}``; 429: ``{"error": str}``."""
    inner = body.get("error") if isinstance(body, dict) else None
    if status == 429 and isinstance(inner, str):
        return
    if not isinstance(inner, dict):
        yield f"$: error body {body!r} is not {{'error': {{'code', 'message'}}}}"
        return
    for key in ("code", "message"):
        if not isinstance(inner.get(key), str) or not inner[key]:
            yield f"$.error.{key}: missing or not a non-empty string"


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@pytest.fixture
def conformance() -> Iterator[Conformance]:
    """A fresh collector; the test fails at teardown if any recorded answer broke the spec."""
    conf = Conformance.load()
    yield conf
    conf.assert_clean()
