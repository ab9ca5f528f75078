"""The quickbooks connector's options, read once into a frozen value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.oauth import scopes_of

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
class QuickBooksSettings:
    realm_id: str
    environment: str
    base_url: str
    minor_version: int
    client_id: str | None
    client_secret: str | None
    refresh_token: str | None
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    redirect_uri: str
    webhook_verifier_token: str | None
    item_id: str
    tax_code: str | None
    exempt_tax_code: str | None
    txn_tax_code: str | None
    multicurrency: bool
    currency: str | None
    email_invoice: bool
    page_size: int
    requests_per_minute: int
    timeout: float

    @classmethod
    def read(cls, config: Mapping[str, Any], number: Any) -> "QuickBooksSettings":
        """Read `config`; `number(key, default, kind)` is the connector's checked number reader."""
        environment = str(config.get("environment") or "production")
        if environment not in HOSTS:
            raise ValueError("option 'environment' must be production or sandbox")
        return cls(
            realm_id=str(config["realm_id"]),
            environment=environment,
            base_url=str(config.get("base_url") or HOSTS[environment]).rstrip("/"),
            minor_version=number("minor_version", MINOR_VERSION, int),
            client_id=_text(config.get("client_id")),
            client_secret=_text(config.get("client_secret")),
            refresh_token=_text(config.get("refresh_token")),
            authorize_url=str(config.get("authorize_url") or AUTHORIZE_URL),
            token_url=str(config.get("token_url") or TOKEN_URL),
            scopes=scopes_of(config.get("scopes"), (SCOPE,)),
            redirect_uri=str(config.get("redirect_uri") or "http://localhost:8765/callback"),
            webhook_verifier_token=_text(config.get("webhook_verifier_token")),
            item_id=str(config.get("item_id") or "1"),
            tax_code=_text(config.get("tax_code", "TAX")),
            exempt_tax_code=_text(config.get("exempt_tax_code", "NON")),
            txn_tax_code=_text(config.get("txn_tax_code")),
            multicurrency=bool(config.get("multicurrency", False)),
            currency=_text(config.get("currency")),
            email_invoice=bool(config.get("email_invoice", False)),
            page_size=min(1000, number("page_size", 1000, int)),
            requests_per_minute=number("requests_per_minute",
                                       REQUESTS_PER_MINUTE[environment], int),
            timeout=number("timeout", 30.0, float),
        )


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
