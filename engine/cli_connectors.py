"""`billflow connectors`: what each connector type consumes and produces; check credentials."""

from __future__ import annotations

import sys

import click

from engine.cli_daemon import db_option, open_existing_store

__all__ = ["connectors"]


@click.group(invoke_without_command=True)
@click.pass_context
def connectors(ctx: click.Context) -> None:
    """List every connector type with the actions it carries out and the events it produces."""
    if ctx.invoked_subcommand is not None:
        return
    from connectors.registry import ConnectorRegistry

    registry = ConnectorRegistry.discover()
    for kind in registry.types():
        cls = registry.connector_class(kind)
        click.echo(f"{kind}")
        click.echo(f"  consumes: {', '.join(sorted(cls.consumes)) or '-'}")
        click.echo(f"  produces: {', '.join(sorted(cls.produces)) or '-'}")
    for problem in registry.problems:
        click.echo(f"not loaded: {problem}", err=True)


@connectors.command()
@click.argument("rules", default="rules", metavar="[RULES]")
@db_option
def check(rules: str, db: str) -> None:
    """Build each of the Agency's connectors and verify its configuration and credentials."""
    from pathlib import Path

    from connectors.base import ConnectorContext
    from connectors.registry import ConnectorRegistry
    from engine.cli_common import load_rules
    from engine.errors import ConnectorError

    ruleset = load_rules(rules)
    registry = ConnectorRegistry.discover()
    # Tokens from `billflow connect` (and cursors) are kept in the store, when there is one.
    store = open_existing_store(db) if "://" in db or Path(db).exists() else None
    failed = 0
    try:
        for name, config in ruleset.agency.connectors.items():
            try:
                with registry.build(config, ConnectorContext(ruleset, state=store)) as connector:
                    click.echo(f"{name} ({config.type}): {connector.check()}")
            except ConnectorError as exc:
                failed += 1
                click.echo(f"{name} ({config.type}): FAILED — {exc}", err=True)
    finally:
        if store is not None:
            store.close()
    if failed:
        sys.exit(1)


@connectors.command()
@click.argument("name")
@click.option("--since", default=None, metavar="DATE",
              help="Fetch again everything from this day (YYYY-MM-DD); default: the connector's own start.")
@db_option
def resync(name: str, since: str | None, db: str) -> None:
    """Make source connector NAME fetch again (after fixing its mapping) and clear its problems.

    Records fetched again that were stored before are repeats of the same event ids: harmless.
    The running daemon picks the reset cursor up at its next poll.
    """
    from engine.cli_common import parse_day
    from engine.runtime.sources import resync as reset_cursor

    day = parse_day(since, "--since") if since is not None else None
    store = open_existing_store(db)
    try:
        cleared = reset_cursor(store, name, day)
    finally:
        store.close()
    start = f"from {day.isoformat()}" if day else "from its start"
    click.echo(f"{name}: fetches again {start} at its next poll; {cleared} problem(s) cleared")


@connectors.command()
@click.argument("name", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@db_option
def problems(name: str | None, fmt: str, db: str) -> None:
    """List the vendor records source connectors could not turn into events (exit 1 if any)."""
    import json

    store = open_existing_store(db)
    try:
        rows = store.source_problems(name)
    finally:
        store.close()
    if fmt == "json":
        click.echo(json.dumps([{"connector": r.connector, "record": r.record,
                                "message": r.message, "first_seen": r.first_seen.isoformat(),
                                "last_seen": r.last_seen.isoformat(), "seen": r.seen}
                               for r in rows], indent=2))
    else:
        for row in rows:
            click.echo(f"{row.connector}: {row.record}: {row.message} "
                       f"(seen {row.seen}x, last {row.last_seen:%Y-%m-%d %H:%M} UTC)")
        if not rows:
            click.echo("no source problems")
    if rows:
        sys.exit(1)
