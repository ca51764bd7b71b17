"""Signatures verify with the public key; the key never shows up in reprs or logs."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from kalbot.adapters.kalshi.signing import Signer, SigningError, load_private_key, signing_path


def verify_rsa(public: rsa.RSAPublicKey, headers: dict[str, str], method: str, path: str) -> None:
    message = (headers["KALSHI-ACCESS-TIMESTAMP"] + method + path).encode()
    public.verify(
        base64.b64decode(headers["KALSHI-ACCESS-SIGNATURE"]),
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )


def test_signature_over_timestamp_method_and_path_verifies(rsa_key: rsa.RSAPrivateKey) -> None:
    signer = Signer("key-1", rsa_key, clock_ms=lambda: 1703123456789)
    h = signer.headers("get", "https://x.test/trade-api/v2/portfolio/orders?limit=5")
    assert h["KALSHI-ACCESS-KEY"] == "key-1"
    assert h["KALSHI-ACCESS-TIMESTAMP"] == "1703123456789"
    assert len(h["KALSHI-ACCESS-SIGNATURE"]) == 344  # 256-byte signature, base64 with padding
    verify_rsa(rsa_key.public_key(), h, "GET", "/trade-api/v2/portfolio/orders")
    with pytest.raises(InvalidSignature):  # the query string is not part of the message
        verify_rsa(rsa_key.public_key(), h, "GET", "/trade-api/v2/portfolio/orders?limit=5")


def test_each_call_takes_a_fresh_timestamp(rsa_key: rsa.RSAPrivateKey) -> None:
    ticks = iter([1000, 2000])
    signer = Signer("k", rsa_key, clock_ms=lambda: next(ticks))
    a = signer.headers("POST", "/trade-api/v2/portfolio/events/orders")
    b = signer.headers("POST", "/trade-api/v2/portfolio/events/orders")
    assert (a["KALSHI-ACCESS-TIMESTAMP"], b["KALSHI-ACCESS-TIMESTAMP"]) == ("1000", "2000")
    verify_rsa(rsa_key.public_key(), b, "POST", "/trade-api/v2/portfolio/events/orders")


def test_ed25519_keys_sign_the_same_message() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    h = Signer("k", key, clock_ms=lambda: 5).headers("GET", "/trade-api/ws/v2")
    key.public_key().verify(base64.b64decode(h["KALSHI-ACCESS-SIGNATURE"]), b"5GET/trade-api/ws/v2")


def test_repr_hides_the_key(rsa_key: rsa.RSAPrivateKey) -> None:
    assert repr(Signer("k", rsa_key)) == "Signer(key_id='k', key=<hidden>)"


def test_pem_file_loads_and_world_readable_file_warns(
    pem_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        load_private_key(pem_file)
    assert not caplog.records
    pem_file.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        key = load_private_key(pem_file)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert "readable by other users" in caplog.text
    assert "PRIVATE KEY" not in caplog.text


def test_missing_or_garbage_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SigningError, match="cannot read"):
        load_private_key(tmp_path / "nope.pem")
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    bad.chmod(0o600)
    with pytest.raises(SigningError, match="not an unencrypted PEM"):
        load_private_key(bad)
    with pytest.raises(SigningError, match="key id"):
        Signer("", ed25519.Ed25519PrivateKey.generate())


def test_signing_path_strips_host_and_query() -> None:
    assert (
        signing_path("http://127.0.0.1:9/trade-api/v2/markets?cursor=x") == "/trade-api/v2/markets"
    )
