"""The xero connector's options, read once into a frozen value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.oauth import scopes_of

__all__ = ["XeroSettings", "BASE_URL", "AUTHORIZE_URL", "TOKEN_URL", "CONNECTIONS_URL",
           "SCOPES"]

BASE_URL = "https://api.xero.com/api.xro/2.0"
AUTHORIZE_URL = "https://login.xero.com/identity/connect/authorize"
TOKEN_URL = "https://identity.xero.com/connect/token"
CONNECTIONS_URL = "https://api.xero.com/connections"
# Granular scopes (apps created from 2026-03-02); older apps set `scopes` to theirs.
SCOPES = ("offline_access", "accounting.invoices", "accounting.payments.read",
          "accounting.contacts.read", "accounting.settings.read")


@dataclass(frozen=True)
class XeroSettings:
    tenant_id: str
    base_url: str
    connections_url: str
    client_id: str | None
    client_secret: str | None
    refresh_token: str | None
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    redirect_uri: str
    webhook_key: str | None
    account_code: str
    tax_type: str | None
    exempt_tax_type: str
    currency: str | None
    email_invoice: bool
    page_size: int
    requests_per_minute: int
    timeout: float

    @classmethod
    def read(cls, config: Mapping[str, Any], number: Any) -> "XeroSettings":
        return cls(
            tenant_id=str(config["tenant_id"]),
            base_url=str(config.get("base_url") or BASE_URL).rstrip("/"),
            connections_url=str(config.get("connections_url") or CONNECTIONS_URL),
            client_id=_text(config.get("client_id")),
            client_secret=_text(config.get("client_secret")),
            refresh_token=_text(config.get("refresh_token")),
            authorize_url=str(config.get("authorize_url") or AUTHORIZE_URL),
            token_url=str(config.get("token_url") or TOKEN_URL),
            scopes=scopes_of(config.get("scopes"), SCOPES),
            redirect_uri=str(config.get("redirect_uri") or "http://localhost:8765/callback"),
            webhook_key=_text(config.get("webhook_key")),
            account_code=str(config.get("account_code") or "200"),
            tax_type=_text(config.get("tax_type")),
            exempt_tax_type=str(config.get("exempt_tax_type") or "NONE"),
            currency=_text(config.get("currency")),
            email_invoice=bool(config.get("email_invoice", False)),
            page_size=min(1000, number("page_size", 100, int)),
            requests_per_minute=number("requests_per_minute", 60, int),
            timeout=number("timeout", 30.0, float),
        )


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
