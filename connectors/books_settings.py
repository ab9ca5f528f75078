"""The options every accounting-system connector reads: its OAuth app, paging, pacing, timeout.

A vendor's settings (connectors/quickbooks/settings.py, connectors/xero/settings.py) extend
`BooksSettings` with their own fields and read the shared ones through `BooksSettings.shared`,
giving their own defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.oauth import scopes_of

__all__ = ["BooksSettings", "REDIRECT_URI", "optional_text"]

REDIRECT_URI = "http://localhost:8765/callback"
MAX_PAGE_SIZE = 1000

NumberOption = Callable[[str, Any, type], Any]
"""The connector's checked reader of a number option: (key, default, kind) -> number."""


def optional_text(value: Any) -> str | None:
    """Return `value` as text, or None when it is unset or empty."""
    return str(value) if value not in (None, "") else None


@dataclass(frozen=True)
class BooksSettings:
    """The OAuth app and the calls' budget; a subclass adds the vendor's own options."""

    base_url: str
    client_id: str | None
    client_secret: str | None
    refresh_token: str | None
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    redirect_uri: str
    currency: str | None
    email_invoice: bool
    page_size: int
    requests_per_minute: int
    timeout: float

    @property
    def webhook_secret(self) -> str | None:
        """Return the key the vendor signs webhooks with (None: webhooks are off)."""
        return None

    @property
    def secrets(self) -> tuple[str, ...]:
        """Return every secret among the options (kept out of logs and errors)."""
        return tuple(secret for secret in (self.client_secret, self.refresh_token,
                                           self.webhook_secret) if secret)

    @staticmethod
    def shared(config: Mapping[str, Any], number: NumberOption, *, base_url: str,
               authorize_url: str, token_url: str, scopes: Sequence[str], page_size: int,
               requests_per_minute: int) -> dict[str, Any]:
        """Read the shared options of `config`, with the vendor's defaults, as keyword arguments."""
        return dict(
            base_url=str(config.get("base_url") or base_url).rstrip("/"),
            client_id=optional_text(config.get("client_id")),
            client_secret=optional_text(config.get("client_secret")),
            refresh_token=optional_text(config.get("refresh_token")),
            authorize_url=str(config.get("authorize_url") or authorize_url),
            token_url=str(config.get("token_url") or token_url),
            scopes=scopes_of(config.get("scopes"), tuple(scopes)),
            redirect_uri=str(config.get("redirect_uri") or REDIRECT_URI),
            currency=optional_text(config.get("currency")),
            email_invoice=bool(config.get("email_invoice", False)),
            page_size=min(MAX_PAGE_SIZE, number("page_size", page_size, int)),
            requests_per_minute=number("requests_per_minute", requests_per_minute, int),
            timeout=number("timeout", 30.0, float),
        )
