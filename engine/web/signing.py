"""HMAC-SHA256 signed, expiring tokens: approval links, sign-in links, sessions, personal tokens.

A token is `<claims>.<signature>`, both base64url without padding; the claims are compact
JSON with the token's purpose (`p`) and its expiry in Unix seconds (`x`). The signature
covers the purpose, so a token made for one use is forged for every other. Tokens are not
encrypted: nothing secret goes in the claims (ids, a revision, an expiry).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from engine.errors import LinkRefused

__all__ = ["sign", "verify", "token_id"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, purpose: str, body: str) -> bytes:
    return hmac.new(secret, f"billflow:{purpose}:{body}".encode("ascii"), hashlib.sha256).digest()


def sign(secret: bytes, purpose: str, claims: Mapping[str, Any], expires: datetime) -> str:
    """Return a token for `purpose` carrying `claims`, valid until `expires`."""
    document = {**claims, "p": purpose, "x": int(expires.timestamp())}
    body = _b64(json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{body}.{_b64(_mac(secret, purpose, body))}"


def verify(secret: bytes, purpose: str, token: str, now: datetime) -> dict[str, Any]:
    """Return the claims of a genuine, unexpired token for `purpose`; raise LinkRefused."""
    body, dot, signature = token.partition(".")
    forged = LinkRefused("forged", "This link is not genuine: it was not issued by billflow, "
                                   "or it was changed on the way.")
    if not dot or not body or len(token) > 4096:
        raise forged
    try:
        given = _unb64(signature)
        decoded = _unb64(body)
    except (ValueError, UnicodeEncodeError):
        raise forged from None
    # One spelling per token: base64 ignores stray low bits, so a second spelling of the same
    # signature would otherwise pass as a different (unused) single-use link.
    if _b64(given) != signature or _b64(decoded) != body:
        raise forged
    if not hmac.compare_digest(given, _mac(secret, purpose, body)):
        raise forged
    claims = json.loads(decoded)
    if claims.get("p") != purpose:
        raise forged
    expires = datetime.fromtimestamp(int(claims["x"]), timezone.utc)
    if now >= expires:
        raise LinkRefused("expired", f"This link expired on {expires:%Y-%m-%d at %H:%M} UTC.")
    return claims


def token_id(token: str) -> str:
    """Return the name a token is remembered by once used (never the token itself)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
