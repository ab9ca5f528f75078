"""Connector state: plain values as JSON, secrets sealed at rest, in memory or in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import ConnectorContext
from connectors.state import SECRET_KEY_ENV, ConnectorState, MemoryBackend, sealer_from_env
from engine.errors import ConnectorError
from engine.runtime.sqlite_store import SqliteStore

KEY = "a key of the length billflow asks for, 32+"
TOKENS = {"access_token": "eyJ-access-0123456789", "refresh_token": "AB11-refresh-987654",
          "expires_at": "2026-11-26T14:00:00+00:00"}


def test_values_round_trip_as_json_and_none_forgets() -> None:
    state = ConnectorState(MemoryBackend(), "harvest")
    assert state.get("cursor") is None
    state.put("cursor", {"updated_since": "2026-11-01T00:00:00Z", "page": 2})
    assert state.get("cursor") == {"updated_since": "2026-11-01T00:00:00Z", "page": 2}
    state.put("cursor", None)
    assert state.get("cursor") is None


def test_each_connector_sees_only_its_own_keys() -> None:
    backend = MemoryBackend()
    ConnectorState(backend, "harvest").put("cursor", "a")
    ConnectorState(backend, "toggl").put("cursor", "b")
    assert ConnectorState(backend, "harvest").get("cursor") == "a"
    assert ConnectorState(backend, "toggl").get("cursor") == "b"


def test_secrets_are_sealed_at_rest_and_opened_with_the_same_key() -> None:
    backend = MemoryBackend()
    sealer = sealer_from_env({SECRET_KEY_ENV: "a long random string for the tests only"})
    ConnectorState(backend, "books", sealer).put_secret("oauth", TOKENS)
    raw = backend.connector_value("books", "oauth")
    assert raw is not None and raw.startswith("sealed:")
    for secret in TOKENS.values():
        assert secret not in raw
    again = sealer_from_env({SECRET_KEY_ENV: "a long random string for the tests only"})
    assert ConnectorState(backend, "books", again).get_secret("oauth") == TOKENS


def test_a_changed_key_is_one_clear_error() -> None:
    backend = MemoryBackend()
    ConnectorState(backend, "books", sealer_from_env({SECRET_KEY_ENV: "the first key, long enough to be real"})).put_secret(
        "oauth", TOKENS)
    other = ConnectorState(backend, "books", sealer_from_env({SECRET_KEY_ENV: "the second key, long enough to be real"}))
    with pytest.raises(ConnectorError, match="cannot be decrypted.*billflow connect") as caught:
        other.get_secret("oauth")
    assert not caught.value.retryable


def test_without_a_key_secrets_cannot_be_kept() -> None:
    state = ConnectorState(MemoryBackend(), "books", sealer_from_env({}))
    with pytest.raises(ConnectorError, match=f"set {SECRET_KEY_ENV}"):
        state.put_secret("oauth", TOKENS)


def test_a_short_key_is_refused_not_used() -> None:
    with pytest.raises(ConnectorError, match=f"{SECRET_KEY_ENV} must be at least 32 characters"):
        sealer_from_env({SECRET_KEY_ENV: "short"})


def test_a_plain_value_is_not_read_as_a_secret() -> None:
    backend = MemoryBackend()
    ConnectorState(backend, "books").put("oauth", TOKENS)
    sealed = ConnectorState(backend, "books", sealer_from_env({SECRET_KEY_ENV: KEY}))
    with pytest.raises(ConnectorError, match="not stored sealed"):
        sealed.get_secret("oauth")


def test_the_store_keeps_state_across_restarts(tmp_path: Path) -> None:
    env = {SECRET_KEY_ENV: "the store key, long enough to be real"}
    store = SqliteStore(tmp_path / "store.db")
    context = ConnectorContext(env=env, state=store)
    context.state_for("books").put_secret("oauth", TOKENS)
    context.state_for("harvest").put("cursor", {"since": "2026-11-01"})
    store.close()
    reopened = SqliteStore(tmp_path / "store.db")
    context = ConnectorContext(env=env, state=reopened)
    assert context.state_for("books").get_secret("oauth") == TOKENS
    assert context.state_for("harvest").get("cursor") == {"since": "2026-11-01"}
    context.state_for("harvest").put("cursor", None)
    assert reopened.connector_value("harvest", "cursor") is None
    reopened.close()


def test_can_seal_says_whether_secrets_can_be_kept() -> None:
    assert not ConnectorState(MemoryBackend(), "books").can_seal
    assert not ConnectorState(MemoryBackend(), "books", sealer_from_env({})).can_seal
    sealed = ConnectorState(MemoryBackend(), "books", sealer_from_env({SECRET_KEY_ENV: KEY}))
    assert sealed.can_seal
    assert ConnectorContext(env={SECRET_KEY_ENV: KEY}).state_for("asana").can_seal
    assert not ConnectorContext(env={}).state_for("asana").can_seal
