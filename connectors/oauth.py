"""OAuth2 for the books (QuickBooks Online, Xero): authorisation code, refresh, rotation.

    OAuthClient      one app at one vendor: authorize URL, token URL, client id and secret;
                     `authorization_url`, `exchange_code`, `refresh`
    TokenSet         what a token endpoint answered, with absolute expiry times
    TokenKeeper      a connector's tokens, sealed in its kept state: a valid access token
                     on demand (refreshed ahead of expiry), a refresh after a 401 (once),
                     and the newest refresh token kept every time the vendor rotates it
    LoopbackRedirect a one-shot HTTP server on 127.0.0.1 that receives the redirect of
                     `billflow connect NAME`, checking its `state`

Tokens live only in `ConnectorState` secrets (encrypted with BILLFLOW_SECRET_KEY) and never
in a log line or an error. A refresh token the vendor refuses (`invalid_grant`: revoked,
expired, or already rotated away) is a permanent ConnectorError that says to run
`billflow connect NAME` again. Two connector instances of one process (the dispatcher's
and the poller's) refresh one at a time and share the result through the state, so a
rotating refresh token is never spent twice.
"""

from __future__ import annotations

import base64
import html
import secrets
import socket
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from connectors.base import Connector, retry_after_seconds
from engine.errors import ConnectorError

__all__ = [
    "OAuthClient", "TokenSet", "TokenKeeper", "LoopbackRedirect", "Redirect",
    "TOKENS_KEY", "REFRESH_MARGIN", "new_state", "scopes_of",
]

TOKENS_KEY = "oauth_tokens"
# Refresh this long before the access token expires: a call never starts on a dying token.
REFRESH_MARGIN = timedelta(minutes=5)

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(connector: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(connector, threading.Lock())


def new_state() -> str:
    """Return a fresh, unguessable `state` for one authorisation."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class TokenSet:
    """Tokens as the vendor issued them; times are absolute (UTC)."""

    access_token: str
    refresh_token: str
    expires_at: datetime
    refresh_expires_at: datetime | None = None
    scope: str | None = None

    @classmethod
    def from_reply(cls, reply: Mapping[str, Any], now: datetime,
                   previous_refresh: str | None = None) -> "TokenSet":
        """Read a token endpoint's JSON; keep `previous_refresh` if none new was sent."""
        access = reply.get("access_token")
        refresh = reply.get("refresh_token") or previous_refresh
        if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
            raise ValueError("the token reply lacks access_token or refresh_token")
        lifetime = _seconds(reply.get("expires_in"), 1800)
        refresh_life = reply.get("x_refresh_token_expires_in")
        return cls(
            access_token=access,
            refresh_token=refresh,
            expires_at=now + timedelta(seconds=lifetime),
            refresh_expires_at=(now + timedelta(seconds=_seconds(refresh_life, 0))
                                if refresh_life is not None else None),
            scope=str(reply["scope"]) if reply.get("scope") else None,
        )

    def as_json(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                "expires_at": self.expires_at.isoformat(),
                "refresh_expires_at": (self.refresh_expires_at.isoformat()
                                       if self.refresh_expires_at else None),
                "scope": self.scope}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "TokenSet":
        refresh_expiry = data.get("refresh_expires_at")
        return cls(str(data["access_token"]), str(data["refresh_token"]),
                   datetime.fromisoformat(str(data["expires_at"])),
                   datetime.fromisoformat(refresh_expiry) if refresh_expiry else None,
                   data.get("scope"))

    def fresh(self, now: datetime, margin: timedelta = REFRESH_MARGIN) -> bool:
        """True while the access token has more than `margin` to live."""
        return now + margin < self.expires_at


def _seconds(value: Any, default: int) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class OAuthClient:
    """One OAuth2 app at one vendor (client credentials sent as HTTP Basic)."""

    connector: Connector
    label: str  # "QuickBooks", "Xero"
    authorize_url: str
    token_url: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    timeout: float = 30.0

    def authorization_url(self, redirect_uri: str, state: str) -> str:
        """Return the URL the user opens to grant billflow access."""
        query = urlencode({"client_id": self.client_id, "response_type": "code",
                           "scope": " ".join(self.scopes), "redirect_uri": redirect_uri,
                           "state": state})
        separator = "&" if "?" in self.authorize_url else "?"
        return f"{self.authorize_url}{separator}{query}"

    def exchange_code(self, code: str, redirect_uri: str) -> TokenSet:
        """Trade an authorisation code for tokens."""
        reply = self._post({"grant_type": "authorization_code", "code": code,
                            "redirect_uri": redirect_uri}, "exchanging the authorisation code")
        return self._tokens(reply, None)

    def refresh(self, refresh_token: str) -> TokenSet:
        """Trade a refresh token for new tokens (the vendor may rotate the refresh token)."""
        reply = self._post({"grant_type": "refresh_token", "refresh_token": refresh_token},
                           "refreshing the access token")
        return self._tokens(reply, refresh_token)

    def _tokens(self, reply: Mapping[str, Any], previous: str | None) -> TokenSet:
        try:
            tokens = TokenSet.from_reply(reply, self.connector.context.now(), previous)
        except ValueError as exc:
            raise self.connector.fail(f"{self.label} token endpoint: {exc}",
                                      retryable=True) from None
        self.connector.context.mark_secret(tokens.access_token)
        self.connector.context.mark_secret(tokens.refresh_token)
        return tokens

    def _post(self, form: Mapping[str, str], doing: str) -> Mapping[str, Any]:
        for value in form.values():
            self.connector.context.mark_secret(value)
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}", "Accept": "application/json",
                   "Content-Type": "application/x-www-form-urlencoded"}
        try:
            with self.connector.context.http_client(timeout=self.timeout) as client:
                response = client.post(self.token_url, data=dict(form), headers=headers)
        except httpx.HTTPError as exc:
            kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "no reply"
            raise self.connector.fail(f"{doing}: {self.label} token endpoint {kind} "
                                      f"({type(exc).__name__})", retryable=True) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, Mapping):
            body = {}
        if response.status_code == 200 and "error" not in body:
            return body
        error = str(body.get("error") or "")
        if error in ("invalid_grant", "unauthorized_client"):
            raise self.connector.fail(
                f"{self.label} refused the stored authorisation ({error}: it was revoked, "
                f"expired or replaced); run `billflow connect {self.connector.name}` again",
                retryable=False)
        if error == "invalid_client":
            raise self.connector.fail(
                f"{self.label} refused the app's client_id/client_secret (invalid_client); "
                f"check the connector's client credentials", retryable=False)
        status = response.status_code
        retryable = status == 429 or status >= 500
        delay = retry_after_seconds(response.headers.get("Retry-After"),
                                    self.connector.context.now()) if retryable else None
        raise self.connector.fail(f"{doing}: {self.label} token endpoint answered HTTP {status}"
                                  + (f" ({error})" if error else ""),
                                  retryable=retryable, retry_after=delay)


class TokenKeeper:
    """A connector's OAuth tokens, sealed in its state; refreshed before they expire."""

    def __init__(self, oauth: OAuthClient, *, seed_refresh_token: str | None = None) -> None:
        self.oauth = oauth
        self.connector = oauth.connector
        self._seed = seed_refresh_token
        self._last_used: str | None = None

    # -- what VendorApi calls --------------------------------------------------------------
    def authorize(self) -> dict[str, str]:
        """Return the Authorization header, refreshing the access token when it is near expiry."""
        tokens = self.current()
        if not tokens.fresh(self.connector.context.now()):
            tokens = self._refresh(stale=tokens.access_token)
        self._last_used = tokens.access_token
        return {"Authorization": f"Bearer {tokens.access_token}"}

    def reauthorize(self) -> bool:
        """After a 401: refresh once (unless another instance just did); True to repeat the call."""
        self._refresh(stale=self._last_used)
        return True

    # -- tokens ----------------------------------------------------------------------------
    def current(self) -> TokenSet:
        """Return the stored tokens; a seed refresh token from the config starts them once."""
        stored = self._load()
        if stored is not None:
            return stored
        if self._seed:
            return self._refresh(stale=None)
        raise self.connector.fail(
            f"not connected to {self.oauth.label} yet: run `billflow connect "
            f"{self.connector.name}` (or set the connector's refresh_token)", retryable=False)

    def store(self, tokens: TokenSet) -> None:
        """Keep `tokens` (sealed) as the connector's current tokens."""
        self.connector.context.mark_secret(tokens.access_token)
        self.connector.context.mark_secret(tokens.refresh_token)
        self.connector.state.put_secret(TOKENS_KEY, tokens.as_json())

    def refresh_now(self) -> TokenSet:
        """Refresh unconditionally (used by `check`)."""
        return self._refresh(stale=self.current().access_token)

    def _load(self) -> TokenSet | None:
        data = self.connector.state.get_secret(TOKENS_KEY)
        if not data:
            return None
        tokens = TokenSet.from_json(data)
        self.connector.context.mark_secret(tokens.access_token)
        self.connector.context.mark_secret(tokens.refresh_token)
        return tokens

    def _refresh(self, stale: str | None) -> TokenSet:
        with _lock_for(self.connector.name):
            stored = self._load()
            now = self.connector.context.now()
            # Another instance refreshed while we waited: its tokens are ours too.
            if stored is not None and stored.access_token != stale and stored.fresh(now):
                return stored
            refresh_token = stored.refresh_token if stored is not None else self._seed
            if not refresh_token:
                raise self.connector.fail(
                    f"not connected to {self.oauth.label} yet: run `billflow connect "
                    f"{self.connector.name}`", retryable=False)
            tokens = self.oauth.refresh(refresh_token)
            self.store(tokens)
            self.connector.log.info("%s access token refreshed; valid until %s",
                                    self.oauth.label, tokens.expires_at.isoformat())
            return tokens


# -- the loopback redirect of `billflow connect` ---------------------------------------------

@dataclass(frozen=True)
class Redirect:
    """What the vendor's redirect brought: the code and every other query parameter."""

    code: str
    params: Mapping[str, str]


class LoopbackRedirect:
    """A one-shot HTTP server on 127.0.0.1 that waits for the vendor's redirect."""

    def __init__(self, redirect_uri: str, expected_state: str, *, port: int | None = None,
                 label: str = "the vendor") -> None:
        parts = urlsplit(redirect_uri)
        self.path = parts.path or "/"
        self.expected_state = expected_state
        self.label = label
        chosen = parts.port if port is None else port
        self._result: Redirect | ConnectorError | None = None
        self._done = threading.Event()
        self.server = HTTPServer(("127.0.0.1", chosen or 0), self._handler(), bind_and_activate=False)
        self.server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.server.server_bind()
            self.server.server_activate()
        except OSError as exc:
            self.server.server_close()
            raise ConnectorError(f"cannot listen on 127.0.0.1:{chosen} for the redirect "
                                 f"({exc.strerror or exc}); pick another port with --port",
                                 retryable=False) from None
        self.port = self.server.server_address[1]
        host = parts.hostname or "127.0.0.1"
        self.redirect_uri = f"{parts.scheme or 'http'}://{host}:{self.port}{self.path}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server spelling
                parts = urlsplit(self.path)
                if parts.path != owner.path or owner._done.is_set():
                    self._answer(404, "Nothing here.")
                    return
                params = {key: values[0] for key, values in parse_qs(parts.query).items()}
                status, text = owner._take(params)
                self._answer(status, text)

            def _answer(self, status: int, text: str) -> None:
                page = (f"<!doctype html><meta charset='utf-8'><title>billflow</title>"
                        f"<p>{html.escape(text)}</p>").encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: Any) -> None:  # the query holds the code
                pass

        return Handler

    def _take(self, params: Mapping[str, str]) -> tuple[int, str]:
        given = params.get("state", "")
        if not secrets.compare_digest(given.encode(), self.expected_state.encode()):
            self._finish(ConnectorError(
                "the redirect's state does not match the one billflow sent (an old or forged "
                "link); nothing was stored: run `billflow connect` again", retryable=False))
            return 400, "The state does not match: refused. Run billflow connect again."
        if params.get("error"):
            self._finish(ConnectorError(
                f"{self.label} did not grant access ({params['error']}); nothing was stored",
                retryable=False))
            return 400, f"{self.label} did not grant access. You can close this window."
        code = params.get("code")
        if not code:
            self._finish(ConnectorError("the redirect carried no authorisation code",
                                        retryable=False))
            return 400, "No authorisation code: refused."
        others = {key: value for key, value in params.items() if key not in ("code", "state")}
        self._finish(Redirect(code, others))
        return 200, f"billflow is connected to {self.label}. You can close this window."

    def _finish(self, result: Redirect | ConnectorError) -> None:
        self._result = result
        self._done.set()

    def wait(self, timeout: float) -> Redirect:
        """Serve until one redirect came (or `timeout` seconds passed); return it or raise."""
        self.server.timeout = 0.2
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.daemon = True
        timer.start()
        try:
            while not self._done.is_set() and not deadline.is_set():
                self.server.handle_request()
        finally:
            timer.cancel()
            self.server.server_close()
        if self._result is None:
            raise ConnectorError(f"no redirect came back within {int(timeout)}s; nothing was "
                                 f"stored", retryable=False)
        if isinstance(self._result, ConnectorError):
            raise self._result
        return self._result

    def close(self) -> None:
        self.server.server_close()


def scopes_of(value: Any, default: Sequence[str]) -> tuple[str, ...]:
    """Return the configured scopes (a list, or one space-separated string) or the default."""
    if isinstance(value, str):
        return tuple(value.split()) or tuple(default)
    if isinstance(value, (list, tuple)) and value:
        return tuple(str(item) for item in value)
    return tuple(default)

