"""The quickbooks connector's options, read once into a frozen value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.books_settings import BooksSettings, NumberOption, optional_text

__all__ = ["QuickBooksSettings", "HOSTS", "AUTHORIZE_URL", "TOKEN_URL", "SCOPE",
           "MINOR_VERSION"]

HOSTS = {"production": "https://quickbooks.api.intuit.com",
         "sandbox": "https://sandbox-quickbooks.api.intuit.com"}
AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
SCOPE = "com.intuit.quickbooks.accounting"
MINOR_VERSION = 75  # Intuit serves anything lower (or nothing) as 75
REQUESTS_PER_MINUTE = {"production": 500, "sandbox": 600}  # sandbox: 10 per second


@dataclass(frozen=True)
class QuickBooksSettings(BooksSettings):
    realm_id: str
    environment: str
    minor_version: int
    webhook_verifier_token: str | None
    item_id: str
    tax_code: str | None
    exempt_tax_code: str | None
    txn_tax_code: str | None
    multicurrency: bool

    @property
    def webhook_secret(self) -> str | None:
        return self.webhook_verifier_token

    @classmethod
    def read(cls, config: Mapping[str, Any], number: NumberOption) -> "QuickBooksSettings":
        """Read `config`; `number(key, default, kind)` is the connector's checked number reader."""
        environment = str(config.get("environment") or "production")
        if environment not in HOSTS:
            raise ValueError("option 'environment' must be production or sandbox")
        return cls(
            **cls.shared(config, number, base_url=HOSTS[environment],
                         authorize_url=AUTHORIZE_URL, token_url=TOKEN_URL, scopes=(SCOPE,),
                         page_size=1000,
                         requests_per_minute=REQUESTS_PER_MINUTE[environment]),
            realm_id=str(config["realm_id"]),
            environment=environment,
            minor_version=number("minor_version", MINOR_VERSION, int),
            webhook_verifier_token=optional_text(config.get("webhook_verifier_token")),
            item_id=str(config.get("item_id") or "1"),
            tax_code=optional_text(config.get("tax_code", "TAX")),
            exempt_tax_code=optional_text(config.get("exempt_tax_code", "NON")),
            txn_tax_code=optional_text(config.get("txn_tax_code")),
            multicurrency=bool(config.get("multicurrency", False)),
        )
