"""Request-signature verification exactly as Kalshi checks it (REFERENCE §2).

A client signs ``timestamp_ms + METHOD + path`` (path from the host root, query stripped) with
RSA-PSS / SHA-256 / salt = digest length, and sends the key id, the timestamp and the base64
signature in three headers. Each registered key is one account on the simulated exchange.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

KEY_HEADER = "kalshi-access-key"
TIMESTAMP_HEADER = "kalshi-access-timestamp"
SIGNATURE_HEADER = "kalshi-access-signature"

# Kalshi documents no tolerance window; clients sign with a fresh timestamp, so a generous
# minute keeps honest clients working while still refusing replayed or badly skewed requests.
DEFAULT_MAX_SKEW_MS = 60_000

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey


class AuthError(Exception):
    """The request is not authenticated; ``code`` goes into the 401 error body."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class RegisteredKey:
    """One API key: its id, its public key, and the account it trades for."""

    key_id: str
    public_key: PublicKey
    account_id: str


def load_public_key(pem: bytes) -> PublicKey:
    """Load a PEM public key (RSA or Ed25519); a private key PEM gives its public half."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as e:
            raise ValueError("not a PEM public or unencrypted private key") from e
        key = private.public_key()
    if not isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise ValueError(
            f"unsupported key type {type(key).__name__}; Kalshi keys are RSA or Ed25519"
        )
    return key


def load_public_key_file(path: Path) -> PublicKey:
    return load_public_key(path.read_bytes())


def signing_message(timestamp_ms: str, method: str, path: str) -> bytes:
    """The exact bytes Kalshi signs: the query string never enters the signature."""
    return (timestamp_ms + method.upper() + path.split("?", 1)[0]).encode("utf-8")


def verify_signature(key: PublicKey, message: bytes, signature: bytes) -> bool:
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(
                signature,
                message,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                hashes.SHA256(),
            )
        else:
            key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


class KeyRegistry:
    """The keys the server accepts, each mapped to one account."""

    def __init__(
        self,
        keys: Mapping[str, RegisteredKey] | None = None,
        *,
        max_skew_ms: int = DEFAULT_MAX_SKEW_MS,
        wall_ms: Callable[[], int] | None = None,
    ) -> None:
        self._keys: dict[str, RegisteredKey] = dict(keys or {})
        self.max_skew_ms = max_skew_ms
        # Signatures carry real wall-clock time even when the market clock is accelerated.
        self._wall_ms = wall_ms or (lambda: int(time.time() * 1000))

    def register(self, key_id: str, public_key: PublicKey, account_id: str | None = None) -> None:
        if key_id in self._keys:
            raise ValueError(f"API key {key_id!r} registered twice")
        self._keys[key_id] = RegisteredKey(key_id, public_key, account_id or key_id)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def accounts(self) -> list[str]:
        return [k.account_id for k in self._keys.values()]

    def authenticate(self, headers: Mapping[str, str], method: str, path: str) -> str:
        """Check the three KALSHI-ACCESS-* headers; return the account id or raise AuthError."""
        key_id = headers.get(KEY_HEADER)
        ts = headers.get(TIMESTAMP_HEADER)
        sig_b64 = headers.get(SIGNATURE_HEADER)
        if not key_id or not ts or not sig_b64:
            raise AuthError("authentication_required", "missing KALSHI-ACCESS-* headers")
        key = self._keys.get(key_id)
        if key is None:
            raise AuthError("invalid_api_key", "unknown API key")
        if not ts.isdigit():
            raise AuthError(
                "invalid_timestamp", "KALSHI-ACCESS-TIMESTAMP must be Unix milliseconds"
            )
        if abs(self._wall_ms() - int(ts)) > self.max_skew_ms:
            raise AuthError("stale_timestamp", "request timestamp is outside the accepted window")
        try:
            signature = base64.b64decode(sig_b64, validate=True)
        except (binascii.Error, ValueError):
            raise AuthError("invalid_signature", "signature is not valid base64") from None
        if not verify_signature(key.public_key, signing_message(ts, method, path), signature):
            raise AuthError("invalid_signature", "signature does not verify")
        return key.account_id


def generate_rsa_key_pem(bits: int = 2048) -> bytes:
    """A fresh unencrypted RSA private key in PEM: for demos and tests that need a key pair.

    The server only ever keeps the public half; whoever acts as the client keeps this PEM.
    """
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
