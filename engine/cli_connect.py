"""`billflow connect NAME`: authorise billflow at QuickBooks Online or Xero, keep the tokens.

The command prints the vendor's authorisation URL (and opens it in a browser), waits for the
vendor's redirect on a one-shot HTTP server on 127.0.0.1 (the port of the connector's
`redirect_uri`, or `--port`), checks the redirect's `state`, exchanges the code for tokens
and stores them encrypted (BILLFLOW_SECRET_KEY) in the daemon's store, where the running
daemon picks them up at its next call.
"""

from __future__ import annotations

import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from engine.cli_daemon import db_option
from engine.errors import UsageError

if TYPE_CHECKING:
    import httpx

__all__ = ["connect", "run_connect"]

DEFAULT_TIMEOUT = 300.0


@click.command()
@click.argument("name")
@click.option("--rules", default="rules", show_default=True, help="rule folder (the Agency)")
@db_option
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="loopback port for the redirect (default: the port of redirect_uri)")
@click.option("--timeout", type=float, default=DEFAULT_TIMEOUT, show_default=True,
              help="seconds to wait for the redirect")
@click.option("--no-browser", is_flag=True, help="print the URL only; do not open a browser")
def connect(name: str, rules: str, db: str, port: int | None, timeout: float,
            no_browser: bool) -> None:
    """Authorise the Agency's connector NAME (quickbooks, xero) and store its tokens."""
    run_connect(name, rules, db, port=port, timeout=timeout,
                open_browser=None if no_browser else webbrowser.open)


def run_connect(name: str, rules: str, db: str, *, port: int | None = None,
                timeout: float = DEFAULT_TIMEOUT,
                open_browser: Callable[[str], Any] | None = None,
                echo: Callable[[str], None] = click.echo,
                http_client_factory: Callable[..., "httpx.Client"] | None = None) -> None:
    """Walk through one authorisation of connector `name`; raise a BillflowError if it fails."""
    from connectors.base import ConnectorContext
    from connectors.oauth import LoopbackRedirect, TokenKeeper, new_state
    from connectors.registry import ConnectorRegistry
    from connectors.state import SECRET_KEY_ENV, sealer_from_env
    from engine.cli_common import load_rules
    from engine.runtime.store import open_store

    ruleset = load_rules(rules)
    config = ruleset.agency.connectors.get(name)
    if config is None:
        known = ", ".join(sorted(ruleset.agency.connectors)) or "none"
        raise UsageError(f"the Agency declares no connector '{name}' (declared: {known})")
    if sealer_from_env() is None:
        raise UsageError(f"set {SECRET_KEY_ENV} (a long random string, the same the daemon "
                         f"uses) so the tokens can be stored encrypted")
    if "://" not in db:
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    store = open_store(db)
    try:
        context = ConnectorContext(ruleset, state=store, http_client_factory=http_client_factory)
        with ConnectorRegistry.discover().build(config, context) as connector:
            keeper = getattr(connector, "tokens", None)
            if not isinstance(keeper, TokenKeeper):
                raise UsageError(f"connector '{name}' ({config.type}) does not authorise with "
                                 f"OAuth2; nothing to connect")
            connector.api  # the app's client credentials must be there before the browser
            oauth = keeper.oauth
            state = new_state()
            redirect = LoopbackRedirect(connector.settings.redirect_uri, state, port=port,
                                        label=oauth.label)
            url = oauth.authorization_url(redirect.redirect_uri, state)
            echo(f"Open this address in a browser and allow billflow to reach {oauth.label}:")
            echo(f"  {url}")
            echo(f"Waiting for {oauth.label} to send the browser back to "
                 f"{redirect.redirect_uri} ...")
            if open_browser is not None:
                open_browser(url)
            answer = redirect.wait(timeout)
            tokens = oauth.exchange_code(answer.code, redirect.redirect_uri)
            keeper.store(tokens)
            for line in connector.connected(answer.params):
                echo(line)
            echo(f"{name} ({config.type}): connected; tokens stored encrypted in {db}")
    finally:
        store.close()
