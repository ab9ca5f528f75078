"""What a connector keeps between runs: sync cursors, webhook secrets, OAuth tokens.

Each connector instance sees its own `ConnectorState` (`connector.state`): plain values
(a cursor, a handshake secret) as JSON, and secrets (OAuth tokens) encrypted at rest with a key
derived from `BILLFLOW_SECRET_KEY`. The daemon backs it with its store; tests and one-off
commands may use `MemoryState`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from engine.errors import ConnectorError

__all__ = ["StateBackend", "ConnectorState", "MemoryBackend", "SECRET_KEY_ENV",
           "MIN_SECRET_LENGTH", "sealer_from_env"]

SECRET_KEY_ENV = "BILLFLOW_SECRET_KEY"
MIN_SECRET_LENGTH = 32  # the one key also signs approval and sign-in links (engine/web)
_SECRET_PREFIX = "sealed:"


class StateBackend(Protocol):
    """Where connector state lives: text values by (connector, key)."""

    def connector_value(self, connector: str, key: str) -> str | None: ...

    def put_connector_value(self, connector: str, key: str, value: str | None) -> None: ...


class MemoryBackend:
    """A state backend in memory (tests, one-off commands)."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def connector_value(self, connector: str, key: str) -> str | None:
        with self._lock:
            return self._values.get((connector, key))

    def put_connector_value(self, connector: str, key: str, value: str | None) -> None:
        with self._lock:
            if value is None:
                self._values.pop((connector, key), None)
            else:
                self._values[(connector, key)] = value


class _Sealer:
    """Authenticated encryption (Fernet: AES-128-CBC + HMAC-SHA256) under a derived key."""

    def __init__(self, secret: str) -> None:
        from cryptography.fernet import Fernet  # imported only where secrets are kept

        digest = hashlib.sha256(b"billflow connector state\0" + secret.encode("utf-8")).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise ConnectorError(
                f"stored credentials cannot be decrypted: {SECRET_KEY_ENV} changed since they "
                f"were saved; run `billflow connect` again", retryable=False) from None


def sealer_from_env(env: Mapping[str, str] | None = None) -> _Sealer | None:
    """Return the sealer for `BILLFLOW_SECRET_KEY`, or None when it is not set."""
    secret = (os.environ if env is None else env).get(SECRET_KEY_ENV)
    if not secret:
        return None
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConnectorError(f"{SECRET_KEY_ENV} must be at least {MIN_SECRET_LENGTH} characters",
                             retryable=False)
    return _Sealer(secret)


class ConnectorState:
    """One connector's keys and values; secrets sealed before they reach the backend."""

    def __init__(self, backend: StateBackend, connector: str, sealer: _Sealer | None = None) -> None:
        self._backend = backend
        self.connector = connector
        self._sealer = sealer

    @property
    def can_seal(self) -> bool:
        """True when secrets can be kept (BILLFLOW_SECRET_KEY is set)."""
        return self._sealer is not None

    def get(self, key: str) -> Any:
        """Return the JSON value stored under `key`, or None."""
        text = self._backend.connector_value(self.connector, key)
        return None if text is None else json.loads(text)

    def put(self, key: str, value: Any) -> None:
        """Store a JSON value under `key` (None deletes it)."""
        text = None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))
        self._backend.put_connector_value(self.connector, key, text)

    def get_secret(self, key: str) -> Any:
        """Return the secret JSON value under `key` (decrypted), or None."""
        text = self._backend.connector_value(self.connector, key)
        if text is None:
            return None
        if not text.startswith(_SECRET_PREFIX):
            raise ConnectorError(f"connector '{self.connector}': '{key}' is not stored sealed",
                                 retryable=False)
        return json.loads(self._require_sealer().open(text.removeprefix(_SECRET_PREFIX)))

    def put_secret(self, key: str, value: Any) -> None:
        """Encrypt and store a secret JSON value under `key` (None deletes it)."""
        if value is None:
            self._backend.put_connector_value(self.connector, key, None)
            return
        sealed = self._require_sealer().seal(json.dumps(value, sort_keys=True))
        self._backend.put_connector_value(self.connector, key, _SECRET_PREFIX + sealed)

    def _require_sealer(self) -> _Sealer:
        if self._sealer is None:
            raise ConnectorError(f"connector '{self.connector}': set {SECRET_KEY_ENV} (a long "
                                 f"random string) so credentials can be kept encrypted",
                                 retryable=False)
        return self._sealer
