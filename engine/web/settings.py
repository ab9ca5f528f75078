"""The web surface's settings: signing key, public URL, cookie flags, link lifetimes.

The signing key comes from `BILLFLOW_SECRET_KEY`; without it, a key is generated once per
store and kept beside it (`<store>.secret`, readable by its owner only), so links survive a
restart. Rotating the key revokes every link, session and personal token at once.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from connectors.state import MIN_SECRET_LENGTH, SECRET_KEY_ENV
from engine.errors import UsageError

__all__ = ["WebOptions", "WebSettings", "resolve_settings", "store_secret_path", "SECRET_ENV"]

SECRET_ENV = SECRET_KEY_ENV  # one key: web tokens and sealed connector credentials


@dataclass(frozen=True)
class WebOptions:
    """What the operator chose (`billflow run` options); None means the default."""

    public_url: str | None = None
    secret_key: str | None = None
    cookie_secure: bool | None = None  # None: Secure unless plain HTTP on loopback
    approval_ttl: timedelta = timedelta(days=7)
    signin_ttl: timedelta = timedelta(minutes=15)
    session_ttl: timedelta = timedelta(hours=12)
    person_token_ttl: timedelta = timedelta(days=365)
    forwarded_allow_ips: str | None = None  # the reverse proxy's address, to trust its headers


@dataclass(frozen=True)
class WebSettings:
    """Resolved settings, shared by every page."""

    secret: bytes
    secret_source: str  # "environment", or the key file's path
    public_url: str  # no trailing slash
    cookie_secure: bool
    approval_ttl: timedelta = timedelta(days=7)
    signin_ttl: timedelta = timedelta(minutes=15)
    session_ttl: timedelta = timedelta(hours=12)
    person_token_ttl: timedelta = timedelta(days=365)
    forwarded_allow_ips: str | None = None

    def url(self, path: str) -> str:
        """Return the absolute URL of `path` as people outside reach it."""
        return self.public_url + path


def store_secret_path(db: str) -> Path:
    """Return where the generated key of the store `db` is kept."""
    return Path(db.removeprefix("sqlite:///")).with_suffix(".secret")


def _store_secret(db: str) -> tuple[bytes, str]:
    path = store_secret_path(db)
    if path.exists():
        text = path.read_text(encoding="utf-8").strip()
        if len(text) >= MIN_SECRET_LENGTH:
            return text.encode("utf-8"), str(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(key + "\n", encoding="utf-8")
    path.chmod(0o600)
    return key.encode("utf-8"), str(path)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_settings(options: WebOptions, *, db: str,
                     http: tuple[str, int] | None) -> WebSettings:
    """Resolve the key (given, environment, or the store's own) and the public URL."""
    given = options.secret_key or os.environ.get(SECRET_ENV)
    if given:
        if len(given) < MIN_SECRET_LENGTH:
            raise UsageError(f"{SECRET_ENV} must be at least {MIN_SECRET_LENGTH} characters")
        secret, source = given.encode("utf-8"), "environment"
    else:
        secret, source = _store_secret(db)
    public_url = options.public_url
    if public_url is None:
        host, port = http or ("127.0.0.1", 8787)
        shown = f"[{host}]" if ":" in host else host
        public_url = f"http://{shown}:{port}"
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--public-url {public_url!r} is not an http(s) URL")
    cookie_secure = options.cookie_secure
    if cookie_secure is None:
        cookie_secure = not (parts.scheme == "http" and _is_loopback(parts.hostname))
    return WebSettings(secret=secret, secret_source=source, public_url=public_url.rstrip("/"),
                       cookie_secure=cookie_secure, approval_ttl=options.approval_ttl,
                       signin_ttl=options.signin_ttl, session_ttl=options.session_ttl,
                       person_token_ttl=options.person_token_ttl,
                       forwarded_allow_ips=options.forwarded_allow_ips)
