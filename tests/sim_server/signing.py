"""A minimal Kalshi request signer acting as the client in these tests (REFERENCE §2)."""

from __future__ import annotations

import base64
import functools
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


@functools.lru_cache(maxsize=16)
def _load(private_pem: bytes) -> rsa.RSAPrivateKey:
    # Loading checks the key (~0.3 s on a busy machine): once per PEM per session.
    key = serialization.load_pem_private_key(private_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


class Signer:
    def __init__(self, key_id: str, private_pem: bytes) -> None:
        self.key_id = key_id
        self._key = _load(private_pem)

    def headers(self, method: str, path: str, ts_ms: int | None = None) -> dict[str, str]:
        ts = str(ts_ms if ts_ms is not None else int(time.time() * 1000))
        msg = (ts + method.upper() + path.split("?", 1)[0]).encode()
        sig = self._key.sign(
            msg,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
            hashes.SHA256(),
        )
        return {
            "KALSHI-ACCESS-KEY": self.key_id,
            "KALSHI-ACCESS-TIMESTAMP": ts,
            "KALSHI-ACCESS-SIGNATURE": base64.b64encode(sig).decode(),
        }
