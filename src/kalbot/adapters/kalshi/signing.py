"""Request signing (REFERENCE §2): RSA-PSS/SHA-256 (or Ed25519) over ``ts_ms + METHOD + path``.

The key and the signatures never appear in logs or reprs.
"""

from __future__ import annotations

import base64
import logging
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

log = logging.getLogger(__name__)

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


class SigningError(Exception):
    """The key could not be loaded or is of an unsupported type."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def load_private_key(path: Path) -> PrivateKey:
    """Load a PEM private key (PKCS#1 or PKCS#8, RSA or Ed25519); warn if others can read it."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as e:
        raise SigningError(
            f"cannot read the Kalshi private key file {path}: {e.strerror}"
        ) from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "Kalshi private key file %s is readable by other users (mode %o); chmod 600 it",
            path,
            stat.S_IMODE(mode),
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise SigningError(f"{path} is not an unencrypted PEM private key: {e}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise SigningError(f"{path}: unsupported key type {type(key).__name__}")
    return key


def signing_path(url_or_path: str) -> str:
    """The path that is signed: from the host root, without the query string."""
    return urlsplit(url_or_path).path


class Signer:
    """Produces the three ``KALSHI-ACCESS-*`` headers, with a fresh timestamp on every call."""

    __slots__ = ("_clock_ms", "_key", "key_id")

    def __init__(
        self, key_id: str, private_key: PrivateKey, clock_ms: Callable[[], int] = _now_ms
    ) -> None:
        if not key_id:
            raise SigningError("a Kalshi API key id is required")
        self.key_id = key_id
        self._key = private_key
        self._clock_ms = clock_ms

    @classmethod
    def from_files(cls, key_id: str, private_key_path: Path) -> Signer:
        return cls(key_id, load_private_key(private_key_path))

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r}, key=<hidden>)"

    def sign(self, message: bytes) -> str:
        if isinstance(self._key, rsa.RSAPrivateKey):
            sig = self._key.sign(
                message,
                padding.PSS(
                    mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH
                ),
                hashes.SHA256(),
            )
        else:
            sig = self._key.sign(message)
        return base64.b64encode(sig).decode("ascii")

    def headers(self, method: str, url_or_path: str) -> dict[str, str]:
        """Headers for one request attempt; call again for every retry (fresh timestamp)."""
        ts = str(self._clock_ms())
        message = (ts + method.upper() + signing_path(url_or_path)).encode("utf-8")
        return {
            "KALSHI-ACCESS-KEY": self.key_id,
            "KALSHI-ACCESS-TIMESTAMP": ts,
            "KALSHI-ACCESS-SIGNATURE": self.sign(message),
        }
