"""Webhook signatures: an HMAC of the raw request bytes, compared in constant time.

Vendors sign the body exactly as sent (Asana, Xero, Intuit, Productive, Toggl); the body is
never re-serialised before checking. Hex or base64, SHA-256 unless a vendor says otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Literal

__all__ = ["hmac_signature", "hmac_matches"]

Encoding = Literal["hex", "base64"]


def hmac_signature(secret: str | bytes, body: bytes, *, encoding: Encoding = "hex",
                   algorithm: str = "sha256") -> str:
    """Return the HMAC of `body` under `secret`, hex or base64."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    digest = hmac.new(key, body, getattr(hashlib, algorithm)).digest()
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode("ascii")


def hmac_matches(secret: str | bytes, body: bytes, signature: str | None, *,
                 encoding: Encoding = "hex", algorithm: str = "sha256",
                 prefix: str = "") -> bool:
    """True when `signature` (minus `prefix`, e.g. "sha256=") is the HMAC of `body`."""
    if not signature or not secret:
        return False
    given = signature.strip()
    if prefix:
        if not given.startswith(prefix):
            return False
        given = given[len(prefix):]
    expected = hmac_signature(secret, body, encoding=encoding, algorithm=algorithm)
    if encoding == "hex":
        given = given.lower()
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace"))
