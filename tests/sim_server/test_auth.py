"""Signature verification: a correctly signed request passes; anything else is refused."""

from __future__ import annotations

import functools
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from kalbot.adapters.simulated.server.auth import (
    AuthError,
    KeyRegistry,
    load_public_key,
    signing_message,
)

from .signing import Signer

PATH = "/trade-api/v2/portfolio/balance"


@pytest.fixture(scope="module")
def pem(key_pem: bytes) -> bytes:
    return key_pem


_public = functools.lru_cache(maxsize=4)(load_public_key)  # loading a PEM is slow


def _registry(pem: bytes, **kw: object) -> KeyRegistry:
    reg = KeyRegistry(**kw)  # type: ignore[arg-type]
    reg.register("key-1", _public(pem), "acct-1")
    return reg


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def test_signed_request_authenticates_to_its_account(pem: bytes) -> None:
    reg = _registry(pem)
    h = _lower(Signer("key-1", pem).headers("GET", PATH))
    assert reg.authenticate(h, "GET", PATH) == "acct-1"


def test_query_string_is_not_part_of_the_signature(pem: bytes) -> None:
    reg = _registry(pem)
    h = _lower(Signer("key-1", pem).headers("GET", PATH + "?limit=5"))
    assert reg.authenticate(h, "GET", PATH) == "acct-1"
    assert signing_message("1", "get", PATH + "?x=1") == f"1GET{PATH}".encode()


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", PATH), ("GET", "/trade-api/v2/portfolio/positions")],
)
def test_signature_over_another_method_or_path_is_refused(
    pem: bytes, method: str, path: str
) -> None:
    reg = _registry(pem)
    h = _lower(Signer("key-1", pem).headers("GET", PATH))
    with pytest.raises(AuthError) as e:
        reg.authenticate(h, method, path)
    assert e.value.code == "invalid_signature"


def test_signature_by_another_key_is_refused(pem: bytes, other_pem: bytes) -> None:
    reg = _registry(pem)
    other = other_pem
    h = _lower(Signer("key-1", other).headers("GET", PATH))
    with pytest.raises(AuthError, match="does not verify"):
        reg.authenticate(h, "GET", PATH)


def test_stale_timestamp_is_refused_even_with_a_valid_signature(pem: bytes) -> None:
    reg = _registry(pem, max_skew_ms=5_000)
    old = int(time.time() * 1000) - 60_000
    h = _lower(Signer("key-1", pem).headers("GET", PATH, ts_ms=old))
    with pytest.raises(AuthError) as e:
        reg.authenticate(h, "GET", PATH)
    assert e.value.code == "stale_timestamp"


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda h: h.pop("kalshi-access-signature"), "authentication_required"),
        (lambda h: h.update({"kalshi-access-key": "nobody"}), "invalid_api_key"),
        (lambda h: h.update({"kalshi-access-timestamp": "12:00"}), "invalid_timestamp"),
        (lambda h: h.update({"kalshi-access-signature": "***"}), "invalid_signature"),
    ],
)
def test_malformed_headers_are_refused_with_a_code(pem: bytes, mutate: object, code: str) -> None:
    reg = _registry(pem)
    h = _lower(Signer("key-1", pem).headers("GET", PATH))
    mutate(h)  # type: ignore[operator]
    with pytest.raises(AuthError) as e:
        reg.authenticate(h, "GET", PATH)
    assert e.value.code == code


def test_ed25519_keys_verify_too() -> None:
    import base64

    private = ed25519.Ed25519PrivateKey.generate()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    reg = KeyRegistry()
    reg.register("ed", load_public_key(public_pem))
    ts = str(int(time.time() * 1000))
    sig = base64.b64encode(private.sign(signing_message(ts, "GET", PATH))).decode()
    h = {"kalshi-access-key": "ed", "kalshi-access-timestamp": ts, "kalshi-access-signature": sig}
    assert reg.authenticate(h, "GET", PATH) == "ed"


def test_registering_a_key_twice_is_an_error(pem: bytes) -> None:
    reg = _registry(pem)
    with pytest.raises(ValueError, match="twice"):
        reg.register("key-1", load_public_key(pem))


def test_garbage_is_not_a_key() -> None:
    with pytest.raises(ValueError, match="PEM"):
        load_public_key(b"not a key")
