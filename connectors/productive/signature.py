"""The `Productive-Signature` header: `t=<unix seconds>, s=<hex>`.

Productive documents the inputs (the webhook's token, the timestamp, the JSON payload) but not
how they are joined. Known implementations sign `"<t>.<raw body>"` with HMAC-SHA256 keyed by
the token, hex-encoded; that is the default here, and `signature.message: body` switches to
the raw body alone. The header name is adjustable too (Productive lets a webhook add custom
headers). A maximum age for `t` is optional: a replayed delivery only makes billflow read again
entries it already has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.signatures import hmac_matches
from connectors.sources import WebhookRequest

__all__ = ["SignatureCheck", "parse_header"]

DEFAULT_HEADER = "Productive-Signature"


def parse_header(value: str | None) -> dict[str, str]:
    """Split `t=..., s=...` into its parts (unknown parts kept, malformed ones ignored)."""
    parts: dict[str, str] = {}
    for item in (value or "").split(","):
        key, sep, text = item.strip().partition("=")
        if sep and key.strip():
            parts[key.strip()] = text.strip()
    return parts


@dataclass(frozen=True)
class SignatureCheck:
    """How this connector checks a webhook's signature."""

    token: str
    header: str = DEFAULT_HEADER
    message: str = "timestamp.body"
    max_age_seconds: int = 0

    @classmethod
    def of(cls, token: str, options: Mapping[str, Any] | None) -> "SignatureCheck":
        options = options or {}
        return cls(token, str(options.get("header") or DEFAULT_HEADER),
                   str(options.get("message") or "timestamp.body"),
                   int(options.get("max_age_seconds") or 0))

    def refusal(self, request: WebhookRequest, now: datetime) -> str | None:
        """Return why the request's signature is refused, or None when it holds."""
        parts = parse_header(request.header(self.header))
        stamp, signature = parts.get("t", ""), parts.get("s")
        if not signature or (self.message == "timestamp.body" and not stamp.isdigit()):
            return f"{self.header} is missing or malformed"
        signed = (stamp.encode("ascii") + b"." + request.body
                  if self.message == "timestamp.body" else request.body)
        if not hmac_matches(self.token, signed, signature):
            return f"{self.header} does not match"
        if self.max_age_seconds and stamp.isdigit() and \
                abs(now.timestamp() - int(stamp)) > self.max_age_seconds:
            return f"{self.header} is too old"
        return None
