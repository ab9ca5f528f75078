"""Asana webhook handshakes and signatures, one secret per webhook target path.

While `POST /webhooks` is in flight, Asana sends the target a request carrying
`X-Hook-Secret`; the reply must echo it (200 or 204). Every later delivery carries
`X-Hook-Signature`: the hex HMAC-SHA256 of the raw body under that secret.

Each Asana webhook watches one resource and has its own secret, so each gets its own target
path below `/webhooks/{connector}` (e.g. `/webhooks/asana/acme-rebrand`). The secret is kept
sealed in the connector's state under that path. A path takes a handshake once: anyone can
send a header, and a second handshake would let them replace the key that authenticates
events. A webhook made again (after Asana dropped it) uses a new path.
"""

from __future__ import annotations

from connectors.signatures import hmac_matches
from connectors.sources import WebhookReply, WebhookRequest
from connectors.state import ConnectorState

__all__ = ["HookSecrets", "SECRET_HEADER", "SIGNATURE_HEADER"]

SECRET_HEADER = "X-Hook-Secret"
SIGNATURE_HEADER = "X-Hook-Signature"


class HookSecrets:
    """The handshake secrets of one connector's Asana webhooks, by target path."""

    def __init__(self, state: ConnectorState) -> None:
        self.state = state

    @staticmethod
    def _key(path: str) -> str:
        return f"hook_secret:{path.strip('/')}"

    def handshake(self, request: WebhookRequest) -> WebhookReply:
        """Keep the secret of a new webhook and echo it; refuse to replace a kept one."""
        offered = (request.header(SECRET_HEADER) or "").strip()
        key = self._key(request.path)
        kept = self.state.get_secret(key)
        if kept is not None and kept != offered:
            return WebhookReply.refused(409, "this path already has a webhook secret; create "
                                             "the webhook with a new target path")
        if kept is None:
            self.state.put_secret(key, offered)
        return WebhookReply(204, headers=((SECRET_HEADER, offered),))

    def verify(self, request: WebhookRequest) -> bool:
        """True when the signature is the HMAC of the raw body under this path's secret."""
        secret = self.state.get_secret(self._key(request.path))
        return bool(secret) and hmac_matches(secret, request.body,
                                             request.header(SIGNATURE_HEADER))

    def known(self, path: str) -> bool:
        return self.state.get_secret(self._key(path)) is not None
