"""The xero connector's options, read once into a frozen value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.books_settings import BooksSettings, NumberOption, optional_text

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
class XeroSettings(BooksSettings):
    tenant_id: str
    connections_url: str
    webhook_key: str | None
    account_code: str
    tax_type: str | None
    exempt_tax_type: str

    @property
    def webhook_secret(self) -> str | None:
        return self.webhook_key

    @classmethod
    def read(cls, config: Mapping[str, Any], number: NumberOption) -> "XeroSettings":
        """Read `config`; `number(key, default, kind)` is the connector's checked number reader."""
        return cls(
            **cls.shared(config, number, base_url=BASE_URL, authorize_url=AUTHORIZE_URL,
                         token_url=TOKEN_URL, scopes=SCOPES, page_size=100,
                         requests_per_minute=60),
            tenant_id=str(config["tenant_id"]),
            connections_url=str(config.get("connections_url") or CONNECTIONS_URL),
            webhook_key=optional_text(config.get("webhook_key")),
            account_code=str(config.get("account_code") or "200"),
            tax_type=optional_text(config.get("tax_type")),
            exempt_tax_type=str(config.get("exempt_tax_type") or "NONE"),
        )
